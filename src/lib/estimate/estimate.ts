import { functions } from '../../../sls/functions';
import { InvalidInputError } from '../errors';
import type { RunInput } from '../input';
import { durationOf, inFlightOf, isOpen, plannedRequestsOf } from '../load/model';
import { maxTimeoutOf } from '../load/scenario';
import {
  checkFitsLambda,
  LOGINS_PER_SECOND,
  PROVISION_PARALLEL_SHARDS,
  type Range,
  shardOf,
  splitRange,
  startDelayFor,
  USERS_PER_SHARD,
  usersPerWorkerFor,
  WORKER_MARGIN_SECONDS,
  WORKER_TIMEOUT_SECONDS,
  WORKERS_PER_GROUP,
} from '../plan';
import { HOURS_PER_MONTH, PRICES, type PriceTable, pricesFor } from './prices';

/** Account quotas the start-up runs into (DESIGN §6); defaults, which AWS may raise on request. */
export const QUOTAS = {
  /** Cognito UserCreation category (AdminCreateUser, AdminSetUserPassword…), requests per second. */
  cognitoUserCreationRps: 50,
  /** Cognito UserAuthentication category (AdminInitiateAuth), requests per second. */
  cognitoAuthenticationRps: 120,
  /** Secrets Manager CreateSecret/PutSecretValue, requests per second. */
  secretsWriteRps: 50,
  /** Distributed Map child workflow starts per second (Standard child executions). */
  mapChildStartsPerSecond: 100,
  /** Lambda adds at most this many execution environments per function per 10 seconds. */
  lambdaScalingStep: 1_000,
  lambdaScalingStepSeconds: 10,
  /** Lambda concurrent executions per account and region. */
  lambdaAccountConcurrency: 1_000,
  /** API Gateway requests per second per account and region, when the target is an API Gateway API. */
  apiGatewayAccountRps: 10_000,
} as const;

/** A start-up longer than this is worth a warning: the user waits before the first request. */
export const STARTUP_WARNING_SECONDS = 120;

/** What the estimate assumes where the code does not fix a number; each is said in the output. */
export const ASSUMED = {
  latencyMs: 100,
  /** The Plan Lambda: parse the input, find the user set's key. */
  planSeconds: 1,
  /** A worker writes its users' summaries after the load. */
  workerTailSeconds: 1,
  /** One S3 GET as Aggregate reads summaries (32 at a time, src/lib/aggregate.ts). */
  s3GetMs: 50,
  aggregateParallelReads: 32,
  /** Aggregate's merge and report writing, besides reading the summaries. */
  aggregateFixedSeconds: 2,
  /** Cleanup's secrets and key steps, besides deleting the users. */
  cleanupFixedSeconds: 2,
  /** START, END and REPORT lines plus one JSON line per invocation. */
  logBytesPerInvocation: 1_024,
  /** Keys in the account that cleanup's tag scan reads (one ListResourceTags each). */
  kmsKeysInAccount: 1,
} as const;

export interface EstimateSettings {
  /** Cognito create/update/delete calls per second for the stack (LOADTEST_COGNITO_WRITE_RPS). */
  readonly cognitoWriteRps: number;
  /** Worker Lambdas that may run at once (LOADTEST_MAX_CONCURRENT_WORKERS). */
  readonly maxConcurrentWorkers: number;
  readonly region: string;
  /** Response time assumed where the model does not fix the load's length (iterations, duration). */
  readonly assumedLatencyMs?: number;
  readonly prices?: PriceTable;
}

export interface TimelineStep {
  readonly step: string;
  /** Seconds from the start of the createUsersAndFanOut execution. */
  readonly startsAt: number;
  readonly seconds: number;
  readonly detail: string;
  /** Set by an account quota rather than by the work itself. */
  readonly quotaBound: boolean;
  readonly assumed: boolean;
}

export type FunctionName = keyof typeof functions;

export interface FunctionUsage {
  readonly invocations: number;
  readonly memoryMb: number;
  /** Billed seconds of all invocations together. */
  readonly seconds: number;
  readonly gbSeconds: number;
}

export interface CostLine {
  readonly service: string;
  readonly usd: number;
  readonly detail: string;
}

export type WarningCode =
  | 'StartupQuotaBound'
  | 'CognitoRateAboveQuota'
  | 'LoginsExceedStartDelay'
  | 'PlanRefused'
  | 'AccountConcurrency'
  | 'LambdaScaling'
  | 'RequestRateAboveApiGatewayQuota'
  | 'LambdaTimeLimit';

export interface EstimateWarning {
  readonly code: WarningCode;
  readonly message: string;
}

export interface Estimate {
  readonly region: string;
  readonly prices: { readonly date: string; readonly pricedAs: string; readonly fallback: boolean };
  readonly plan: {
    readonly users: number;
    readonly shards: number;
    readonly usersPerWorker: number;
    readonly workers: number;
    readonly groups: number;
    readonly startDelaySeconds: number;
  };
  readonly timeline: {
    readonly steps: readonly TimelineStep[];
    /** From the start of the execution to the start barrier (the first request). */
    readonly startupSeconds: number;
    readonly loadSeconds: number;
    readonly loadSecondsAssumed: boolean;
    /** The run's execution, from Plan to Verdict. */
    readonly runSeconds: number;
    /** The deleteTestUsers execution afterwards. */
    readonly cleanupSeconds: number;
  };
  readonly lambda: {
    readonly peakConcurrency: number;
    readonly budget: number;
    readonly accountDefault: number;
    /** Seconds one worker Lambda runs: from fan-out through the start delay, ramp-up, load and summary. */
    readonly workerSeconds: number;
    readonly functions: Readonly<Record<FunctionName, FunctionUsage>>;
    readonly invocations: number;
    readonly gbSeconds: number;
  };
  readonly usage: {
    readonly stateTransitions: number;
    readonly s3: { readonly putListRequests: number; readonly getRequests: number };
    readonly secretsManager: { readonly secrets: number; readonly apiCalls: number; readonly secretHours: number };
    readonly kms: { readonly keys: number; readonly requests: number; readonly keyHours: number };
    readonly cognito: { readonly userCreationCalls: number; readonly logins: number; readonly deletions: number };
    readonly cognitoMau: number;
    readonly logsGb: number;
  };
  readonly target: {
    readonly requests: number;
    readonly requestsAssumed: boolean;
    /** Requests per second to the target with every user sending at once. */
    readonly peakRps: number;
    readonly peakRpsAssumed: boolean;
  };
  readonly cost: { readonly lines: readonly CostLine[]; readonly totalUsd: number };
  readonly assumptions: readonly string[];
  readonly warnings: readonly EstimateWarning[];
}

const n = (value: number): string => value.toLocaleString('en-US', { maximumFractionDigits: 1 });
const GIB = 1024 ** 3;

/**
 * Seconds the Provision Map takes: shards of USERS_PER_SHARD users, PROVISION_PARALLEL_SHARDS at a time,
 * each making two Cognito calls per user at its share of the write rate (provision-users.ts). Fewer
 * shards than slots leave part of the rate unused, so this is not simply users × 2 / rate.
 */
export function provisionSeconds(users: number, cognitoRps: number): number {
  const perShardRps = cognitoRps / PROVISION_PARALLEL_SHARDS;
  const slots = new Array<number>(PROVISION_PARALLEL_SHARDS).fill(0);
  for (const shard of splitRange(users, USERS_PER_SHARD)) {
    const earliest = slots.indexOf(Math.min(...slots));
    slots[earliest] = (slots[earliest] ?? 0) + ((shard.to - shard.from + 1) * 2) / perShardRps;
  }
  return Math.max(...slots);
}

/** The workers of the fan-out, as the state machine expands them from the plan's groups. */
function workerRanges(users: number, usersPerWorker: number): Range[] {
  const out: Range[] = [];
  for (const group of splitRange(users, WORKERS_PER_GROUP * usersPerWorker)) {
    for (let first = group.from; first <= group.to; first += usersPerWorker) {
      out.push({ from: first, to: Math.min(group.to, first + usersPerWorker - 1) });
    }
  }
  return out;
}

const refusal = (error: unknown): string => {
  if (error instanceof InvalidInputError) return error.message;
  throw error;
};

/** The usage, time and cost of one run and its cleanup, from the input and the stack's settings alone. */
export function estimateRun(input: RunInput, settings: EstimateSettings): Estimate {
  const table = settings.prices ?? PRICES;
  const { prices, pricedAs, fallback } = pricesFor(settings.region, table);
  const latencyMs = settings.assumedLatencyMs ?? ASSUMED.latencyMs;
  const warnings: EstimateWarning[] = [];
  const assumptions: string[] = [];
  const warn = (code: WarningCode, message: string) => warnings.push({ code, message });

  // The plan, as the Plan state would make it; what it would refuse becomes a warning.
  let usersPerWorker: number;
  try {
    usersPerWorker = usersPerWorkerFor(input, settings.maxConcurrentWorkers);
  } catch (error) {
    usersPerWorker = input.usersPerWorker ?? Math.max(1, Math.ceil(input.users / settings.maxConcurrentWorkers));
    warn('PlanRefused', `the Plan state would refuse this input: ${refusal(error)}`);
  }
  const startDelaySeconds = startDelayFor(input);
  try {
    checkFitsLambda(input, startDelaySeconds);
  } catch (error) {
    warn('PlanRefused', `the Plan state would refuse this input: ${refusal(error)}`);
  }
  const users = input.users;
  const shards = Math.ceil(users / USERS_PER_SHARD);
  const workers = workerRanges(users, usersPerWorker);
  const groups = Math.ceil(users / (WORKERS_PER_GROUP * usersPerWorker));

  // Load length and request rate: fixed by open and duration models, assumed from a latency otherwise.
  const inFlight = inFlightOf(input.load);
  const fixedSeconds = durationOf(input.load);
  const loadSeconds = fixedSeconds ?? ((plannedRequestsOf(input.load) ?? 0) * (latencyMs / 1000)) / inFlight;
  const closedRps = (inFlight * 1000) / latencyMs;
  const perUserRps = isOpen(input.load)
    ? input.load.model === 'rate'
      ? input.load.ratePerSecond
      : Math.max(...input.load.stages.map((s) => s.target))
    : closedRps;
  const perUserRequests = plannedRequestsOf(input.load) ?? closedRps * loadSeconds;
  if (fixedSeconds === undefined)
    assumptions.push(
      `the load lasts ${n(loadSeconds)} s: ${n(plannedRequestsOf(input.load) ?? 0)} requests per user, ${inFlight} in flight, at an assumed ${n(latencyMs)} ms each (--assume-latency-ms)`,
    );
  if (!isOpen(input.load))
    assumptions.push(
      `the target answers in ${n(latencyMs)} ms (--assume-latency-ms): each user then sends ${n(closedRps)} requests/s`,
    );

  // Timeline of the createUsersAndFanOut execution.
  const cognitoRps = Math.min(settings.cognitoWriteRps, QUOTAS.cognitoUserCreationRps);
  if (settings.cognitoWriteRps > QUOTAS.cognitoUserCreationRps)
    warn(
      'CognitoRateAboveQuota',
      `cognitoWriteRps ${n(settings.cognitoWriteRps)} is above Cognito's UserCreation quota of ${QUOTAS.cognitoUserCreationRps} requests/s: provisioning will be throttled and retried (timed here at the quota)`,
    );
  const provision = provisionSeconds(users, cognitoRps);
  const secrets = shards / QUOTAS.secretsWriteRps;
  const childStarts = groups / QUOTAS.mapChildStartsPerSecond;
  const scaling =
    Math.max(0, Math.ceil(workers.length / QUOTAS.lambdaScalingStep) - 1) * QUOTAS.lambdaScalingStepSeconds;
  const logins = users / QUOTAS.cognitoAuthenticationRps;
  const fanOutAt = ASSUMED.planSeconds + provision;
  const loadAt = fanOutAt + startDelaySeconds;
  const aggregateSeconds =
    (users * ASSUMED.s3GetMs) / 1000 / ASSUMED.aggregateParallelReads + ASSUMED.aggregateFixedSeconds;
  // Aggregate starts once the last user (rampUpSeconds after the barrier) has sent its load and summary.
  const aggregateAt = loadAt + input.rampUpSeconds + loadSeconds + ASSUMED.workerTailSeconds;
  const runSeconds = aggregateAt + aggregateSeconds;
  const cleanupSeconds = users / cognitoRps + ASSUMED.cleanupFixedSeconds;
  const loadAssumed = fixedSeconds === undefined;
  const steps: TimelineStep[] = [
    step('plan', 0, ASSUMED.planSeconds, 'validate the input, find or create the user set key', false, true),
    step(
      'create users',
      ASSUMED.planSeconds,
      provision,
      `${n(users * 2)} Cognito writes (AdminCreateUser + AdminSetUserPassword) at ${n(cognitoRps)}/s, ${PROVISION_PARALLEL_SHARDS} shards of ${USERS_PER_SHARD} at a time (UserCreation quota ${QUOTAS.cognitoUserCreationRps}/s)`,
      true,
      false,
    ),
    step(
      'secrets',
      ASSUMED.planSeconds,
      secrets,
      `${n(shards)} CreateSecret, one per shard, during user creation (≤ ${QUOTAS.secretsWriteRps}/s)`,
      true,
      false,
    ),
    step(
      'map child starts',
      fanOutAt,
      childStarts,
      `${n(groups)} Distributed Map children of up to ${WORKERS_PER_GROUP} workers at ${QUOTAS.mapChildStartsPerSecond}/s`,
      true,
      false,
    ),
    step(
      'lambda scaling',
      fanOutAt,
      scaling,
      `${n(workers.length)} worker environments at ${n(QUOTAS.lambdaScalingStep)} per ${QUOTAS.lambdaScalingStepSeconds} s`,
      true,
      false,
    ),
    step(
      'logins',
      fanOutAt,
      logins,
      `${n(users)} AdminInitiateAuth at ≤ ${QUOTAS.cognitoAuthenticationRps}/s (UserAuthentication quota); the plan budgets ${LOGINS_PER_SECOND}/s`,
      true,
      false,
    ),
    step(
      'start delay',
      fanOutAt,
      startDelaySeconds,
      input.startDelaySeconds === undefined
        ? `fan-out to the start barrier: 5 s + ${n(users)} logins at ${LOGINS_PER_SECOND}/s`
        : 'fan-out to the start barrier, as given',
      input.startDelaySeconds === undefined,
      false,
    ),
    ...(input.rampUpSeconds > 0
      ? [step('ramp-up', loadAt, input.rampUpSeconds, 'user start times spread evenly', false, false)]
      : []),
    step(
      'load',
      loadAt,
      loadSeconds,
      loadAssumed ? `at an assumed ${n(latencyMs)} ms per request` : 'as the model fixes it',
      false,
      loadAssumed,
    ),
    step(
      'aggregate',
      aggregateAt,
      aggregateSeconds,
      `read ${n(users)} summaries ${ASSUMED.aggregateParallelReads} at a time at ~${ASSUMED.s3GetMs} ms, write the reports`,
      false,
      true,
    ),
    step(
      'cleanup',
      runSeconds,
      cleanupSeconds,
      `deleteTestUsers (its own execution): ${n(users)} AdminDeleteUser at ${n(cognitoRps)}/s, secrets, key`,
      true,
      false,
    ),
  ];
  const startupSeconds = loadAt;
  if (startupSeconds > STARTUP_WARNING_SECONDS)
    warn(
      'StartupQuotaBound',
      `start-up takes ${n(startupSeconds)} s (${n(startupSeconds / 60)} min) before the first request, set by quotas: ${n(provision)} s to create ${n(users)} users at ${n(cognitoRps)} Cognito writes/s, then a ${n(startDelaySeconds)} s start delay for ${n(users)} logins`,
    );
  if (childStarts + scaling + logins > startDelaySeconds)
    warn(
      'LoginsExceedStartDelay',
      `starting the workers and logging ${n(users)} users in takes at least ${n(childStarts + scaling + logins)} s under the quotas, more than the ${n(startDelaySeconds)} s start delay: users will start late`,
    );

  // Lambda: every worker runs from fan-out to the end of its users' load. User i starts
  // rampUpSeconds × i / users after the barrier, so a worker waits half the ramp-up on average.
  const workerSeconds = startDelaySeconds + input.rampUpSeconds / 2 + loadSeconds + ASSUMED.workerTailSeconds;
  const longestWorker =
    startDelaySeconds + input.rampUpSeconds + loadSeconds + Math.ceil(maxTimeoutOf(input.scenario) / 1000);
  if (loadAssumed && longestWorker > WORKER_TIMEOUT_SECONDS - WORKER_MARGIN_SECONDS)
    warn(
      'LambdaTimeLimit',
      `at ${n(latencyMs)} ms per request the load would last ${n(loadSeconds)} s, and a worker ${n(longestWorker)} s: more than its ${WORKER_TIMEOUT_SECONDS} s Lambda limit allows; workers stop at their deadline and report what was not sent`,
    );
  const shardUsers = splitRange(users, USERS_PER_SHARD).map((s) => s.to - s.from + 1);
  const usage = (key: FunctionName, invocations: number, seconds: number): FunctionUsage => ({
    invocations,
    memoryMb: functions[key].memorySize,
    seconds,
    gbSeconds: (functions[key].memorySize / 1024) * seconds,
  });
  const lambdaFunctions: Record<FunctionName, FunctionUsage> = {
    planRun: usage('planRun', 1, ASSUMED.planSeconds),
    provisionUsers: usage(
      'provisionUsers',
      shards,
      shardUsers.reduce((s, count) => s + (count * 2 * PROVISION_PARALLEL_SHARDS) / cognitoRps, 0),
    ),
    runWorker: usage('runWorker', workers.length, workers.length * workerSeconds),
    aggregateResults: usage('aggregateResults', 1, aggregateSeconds),
    deleteTestUsers: usage('deleteTestUsers', 1, cleanupSeconds),
    stopRun: usage('stopRun', 0, 0),
  };
  const all = Object.values(lambdaFunctions);
  const invocations = all.reduce((s, f) => s + f.invocations, 0);
  const gbSeconds = all.reduce((s, f) => s + f.gbSeconds, 0);
  if (settings.maxConcurrentWorkers >= QUOTAS.lambdaAccountConcurrency)
    warn(
      'AccountConcurrency',
      `maxConcurrentWorkers ${n(settings.maxConcurrentWorkers)} leaves no room under Lambda's default ${n(QUOTAS.lambdaAccountConcurrency)} concurrent executions per account: check the account's quota`,
    );
  if (scaling > 0)
    warn(
      'LambdaScaling',
      `${n(workers.length)} workers need ${n(scaling)} s of Lambda scaling (${n(QUOTAS.lambdaScalingStep)} environments per ${QUOTAS.lambdaScalingStepSeconds} s per function)`,
    );

  // Requests to AWS besides Lambda.
  const workerSecretReads = workers.reduce((s, w) => s + shardOf(w.to) - shardOf(w.from) + 1, 0);
  // Parent: Plan, Provision, one ProvisionShard per shard, Arm, FanOut, Aggregate, Verdict, Passed.
  // Each child: ExpandGroup, Workers, GroupDone, and RunWorker once per worker. Cleanup: DeleteTestUsers.
  const stateTransitions = 7 + shards + groups * 3 + workers.length + 1;
  const polls = workers.length * Math.ceil(workerSeconds);
  const s3 = {
    // A summary per user, report.json and report.html; the listings of summaries and failure records.
    putListRequests: users + 2 + Math.ceil(users / 1000) + 1,
    // The stop marker once a second in every worker; every summary and the marker once in Aggregate.
    getRequests: polls + users + 1,
  };
  const secretHours = Math.ceil((runSeconds + cleanupSeconds) / 3600);
  const secretsManager = {
    secrets: shards,
    // Provision reads then creates each shard's secret; workers read theirs; cleanup lists and deletes.
    apiCalls: shards * 2 + workerSecretReads + Math.ceil(shards / 100) + shards,
    secretHours: shards * secretHours,
  };
  const kms = {
    keys: 1,
    // DescribeKey, CreateKey, CreateAlias on a first run; GenerateDataKey per secret written, Decrypt per
    // secret read; cleanup's DescribeKey, ScheduleKeyDeletion, DeleteAlias, ListKeys, tag and key reads.
    requests: 3 + shards + workerSecretReads + 4 + ASSUMED.kmsKeysInAccount * 2,
    keyHours: secretHours,
  };
  const cognito = { userCreationCalls: users * 2, logins: users, deletions: users };
  const logsGb = (invocations * ASSUMED.logBytesPerInvocation) / GIB;

  const requests = users * perUserRequests;
  const peakRps = users * perUserRps;
  if (peakRps > QUOTAS.apiGatewayAccountRps)
    warn(
      'RequestRateAboveApiGatewayQuota',
      `up to ${n(peakRps)} requests/s reach the target${isOpen(input.load) ? '' : ` at ${n(latencyMs)} ms per request`}: above API Gateway's default ${n(QUOTAS.apiGatewayAccountRps)} requests/s per account and region; an API Gateway target answers the rest with 429 unless its quota is raised`,
    );

  // Cost.
  const mauBilled = Math.max(0, users - prices.cognitoFreeMau);
  const lines: CostLine[] = [
    {
      service: 'Lambda',
      usd: gbSeconds * prices.lambdaGbSecond + (invocations / 1e6) * prices.lambdaPerMillionRequests,
      detail: `${n(gbSeconds)} GB-s, ${n(invocations)} invocations`,
    },
    {
      service: 'Step Functions',
      usd: (stateTransitions / 1000) * prices.stepFunctionsPerThousandTransitions,
      detail: `${n(stateTransitions)} state transitions`,
    },
    {
      service: 'S3',
      usd: (s3.putListRequests / 1000) * prices.s3PutPerThousand + (s3.getRequests / 1000) * prices.s3GetPerThousand,
      detail: `${n(s3.putListRequests)} PUT/LIST, ${n(s3.getRequests)} GET`,
    },
    {
      service: 'Secrets Manager',
      usd:
        (secretsManager.secretHours / HOURS_PER_MONTH) * prices.secretPerMonth +
        (secretsManager.apiCalls / 10_000) * prices.secretsPerTenThousandCalls,
      detail: `${n(shards)} secrets for ${secretHours} h, ${n(secretsManager.apiCalls)} API calls`,
    },
    {
      service: 'KMS',
      usd:
        (kms.keyHours / HOURS_PER_MONTH) * prices.kmsKeyPerMonth +
        (kms.requests / 10_000) * prices.kmsPerTenThousandRequests,
      detail: `1 key for ${kms.keyHours} h, ${n(kms.requests)} requests`,
    },
    {
      service: 'Cognito',
      usd: mauBilled * prices.cognitoPerMau,
      detail: `${n(users)} MAU, ${n(prices.cognitoFreeMau)} free`,
    },
    { service: 'CloudWatch Logs', usd: logsGb * prices.logsIngestionPerGb, detail: `${logsGb.toFixed(4)} GB ingested` },
  ];
  const totalUsd = lines.reduce((s, line) => s + line.usd, 0);

  assumptions.push(
    `prices of ${pricedAs} as of ${table.date}${fallback ? ` (no prices for ${settings.region} in the table: ${pricedAs}'s are used)` : ''}; free tiers are not counted except Cognito's`,
    `Cognito: ${n(users)} users log in, so ${n(users)} MAU; the Essentials plan's ${n(prices.cognitoFreeMau)} free MAU are assumed unused by other pools of the account (otherwise ${usd(users * prices.cognitoPerMau)})`,
    'a first run: the user set key is created; a re-run reuses users, secrets and key',
    'includes one deleteTestUsers run for the same users; secrets and key are priced for the hours until it ends',
    `worker Lambdas run from fan-out through the start delay, half the ramp-up on average, the load and ${ASSUMED.workerTailSeconds} s for the summary; retries and failed workers are not counted`,
    `Aggregate reads a summary in ~${ASSUMED.s3GetMs} ms; ${n(ASSUMED.logBytesPerInvocation)} bytes of logs per invocation; ${ASSUMED.kmsKeysInAccount} KMS key in the account for cleanup's tag scan`,
    "the target's own cost (API Gateway, its backend) and data transfer are not included",
  );

  return {
    region: settings.region,
    prices: { date: table.date, pricedAs, fallback },
    plan: { users, shards, usersPerWorker, workers: workers.length, groups, startDelaySeconds },
    timeline: { steps, startupSeconds, loadSeconds, loadSecondsAssumed: loadAssumed, runSeconds, cleanupSeconds },
    lambda: {
      peakConcurrency: workers.length,
      budget: settings.maxConcurrentWorkers,
      accountDefault: QUOTAS.lambdaAccountConcurrency,
      workerSeconds,
      functions: lambdaFunctions,
      invocations,
      gbSeconds,
    },
    usage: {
      stateTransitions,
      s3,
      secretsManager,
      kms,
      cognito,
      cognitoMau: users,
      logsGb,
    },
    target: {
      requests,
      requestsAssumed: plannedRequestsOf(input.load) === undefined,
      peakRps,
      peakRpsAssumed: !isOpen(input.load),
    },
    cost: { lines, totalUsd },
    assumptions,
    warnings,
  };
}

function step(
  name: string,
  startsAt: number,
  seconds: number,
  detail: string,
  quotaBound: boolean,
  assumed: boolean,
): TimelineStep {
  return { step: name, startsAt, seconds, detail, quotaBound, assumed };
}

/** Dollars to the cent, and to a tenth of a cent below a dollar (most lines are small). */
export const usd = (value: number): string => `$${value < 1 ? value.toFixed(3) : value.toFixed(2)}`;

/** The estimate as the Plan state's output carries it: the headline numbers, small enough for state. */
export interface EstimateSummary {
  readonly region: string;
  readonly pricesDate: string;
  readonly startupSeconds: number;
  readonly runSeconds: number;
  readonly peakConcurrency: number;
  readonly budget: number;
  readonly costUsd: Readonly<Record<string, number>>;
  readonly totalUsd: number;
  readonly warnings: readonly WarningCode[];
}

export function summarizeEstimate(e: Estimate): EstimateSummary {
  const cents = (usd: number) => Math.round(usd * 10_000) / 10_000;
  return {
    region: e.region,
    pricesDate: e.prices.date,
    startupSeconds: Math.round(e.timeline.startupSeconds),
    runSeconds: Math.round(e.timeline.runSeconds),
    peakConcurrency: e.lambda.peakConcurrency,
    budget: e.lambda.budget,
    costUsd: Object.fromEntries(e.cost.lines.map((line) => [line.service, cents(line.usd)])),
    totalUsd: cents(e.cost.totalUsd),
    warnings: e.warnings.map((w) => w.code),
  };
}
