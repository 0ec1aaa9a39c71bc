import { DEFAULT_USERNAME_PREFIX } from './config';
import { InvalidInputError } from './errors';
import type { EstimateSummary } from './estimate/estimate';
import { LIMITS, type RunInput, type Thresholds } from './input';
import { durationOf, inFlightOf, type LoadModel } from './load/model';
import { maxTimeoutOf, type Scenario } from './load/scenario';

/** Users whose credentials share one secret and one provisioning task (a secret holds ≤ 64 KiB). */
export const USERS_PER_SHARD = 100;
/**
 * Workers per fan-out group: one Distributed Map child runs an inline Map over its group's workers, and
 * an inline Map runs at most 40 iterations at once, so a group of 40 keeps all its workers running together.
 */
export const WORKERS_PER_GROUP = 40;

/** User `index` of the stack's test users. */
export const usernameOf = (index: number, prefix: string = DEFAULT_USERNAME_PREFIX): string => `${prefix}${index}`;
/** The index of a test user's name, or undefined for any name that is not `<prefix><digits>`. */
export const userIndexOf = (username: string, prefix: string = DEFAULT_USERNAME_PREFIX): number | undefined => {
  const digits = username.startsWith(prefix) ? username.slice(prefix.length) : '';
  return /^\d+$/.test(digits) ? Number(digits) : undefined;
};
export const shardOf = (userIndex: number): number => Math.floor(userIndex / USERS_PER_SHARD);

/** An inclusive range of user indices. */
export interface Range {
  readonly from: number;
  readonly to: number;
}

export interface Shard extends Range {
  readonly shard: number;
}

/** What every worker needs, identical for all of them (so it is stated once, not per user). */
export interface WorkerSettings {
  readonly runId: string;
  /** All users of the run: user i starts rampUpSeconds × i / users after the barrier. */
  readonly users: number;
  readonly load: LoadModel;
  readonly rampUpSeconds: number;
  /** Users each worker Lambda runs side by side (each with its own login, connections and summary). */
  readonly usersPerWorker: number;
  readonly startDelaySeconds: number;
  readonly scenario: Scenario;
  /**
   * Rows in the run's data file, when it has one: user i reads row i mod dataRows from its shard's
   * file (`runs/<runId>/data/shard-<shard>.json`, written by the plan step).
   */
  readonly dataRows: number | null;
  /** When set, a user whose own error rate exceeds maxErrorRate after minRequests raises the stop switch. */
  readonly abortOnFail: { readonly maxErrorRate: number; readonly minRequests: number } | null;
}

/** The compact plan carried in state: ranges, never per-user lists (Step Functions caps state at 256 KiB). */
export interface RunPlan {
  readonly runId: string;
  readonly users: number;
  readonly load: LoadModel;
  readonly keyId: string;
  readonly shards: readonly Shard[];
  /** Fan-out groups of users; each holds up to WORKERS_PER_GROUP workers of usersPerWorker users. */
  readonly groups: readonly Range[];
  readonly workers: number;
  readonly worker: WorkerSettings;
  readonly thresholds: Thresholds;
  /** The cost and quota estimate of the run (the Plan step's output shows it before anything is created). */
  readonly estimate?: EstimateSummary;
}

export function splitRange(count: number, size: number): Range[] {
  const out: Range[] = [];
  for (let from = 0; from < count; from += size) out.push({ from, to: Math.min(from + size, count) - 1 });
  return out;
}

/**
 * Chooses how many users each worker Lambda runs: one each while the workers fit the account's Lambda
 * concurrency budget, more when they would not (10,000 users at a budget of 800 -> 13 users a worker).
 */
export function usersPerWorkerFor(input: RunInput, maxConcurrentWorkers: number): number {
  const perWorker = input.usersPerWorker ?? Math.max(1, Math.ceil(input.users / maxConcurrentWorkers));
  const workers = Math.ceil(input.users / perWorker);
  if (workers > maxConcurrentWorkers) {
    throw new InvalidInputError(
      'users.UsersPerWorker',
      `${perWorker} gives ${workers} workers, more than the ${maxConcurrentWorkers} that may run at once; use at least ${Math.ceil(input.users / maxConcurrentWorkers)} (or omit it)`,
    );
  }
  const inFlight = inFlightOf(input.load);
  if (perWorker * inFlight > LIMITS.maxConnectionsPerWorker) {
    const field = input.usersPerWorker !== undefined ? 'users.UsersPerWorker' : inFlightField(input.load);
    throw new InvalidInputError(
      field,
      `${perWorker} users per worker × ${inFlight} requests in flight each exceeds the ${LIMITS.maxConnectionsPerWorker} connections one Lambda can hold`,
    );
  }
  return perWorker;
}

/** The input field that sets a model's requests in flight, for error messages. */
const inFlightField = (load: LoadModel): string =>
  load.model === 'rate' || load.model === 'stages'
    ? 'load.maxInFlight'
    : load.model === 'iterations'
      ? 'users.ConcurrencyPerUser'
      : 'load.concurrency';

/** The worker function's timeout (sls/functions.ts; a config test keeps them equal). */
export const WORKER_TIMEOUT_SECONDS = 900;
/** Kept free after the load: the last requests may take request.timeoutMs, then summaries are written. */
export const WORKER_MARGIN_SECONDS = 30;

/**
 * Refuses a load that cannot end inside one worker invocation: the worker starts at fan-out, waits for
 * the start barrier, then its users' start times spread over the ramp-up, then the load runs.
 */
export function checkFitsLambda(input: RunInput, startDelaySeconds: number): void {
  const seconds = durationOf(input.load);
  if (seconds === undefined) return;
  const spare =
    WORKER_TIMEOUT_SECONDS -
    WORKER_MARGIN_SECONDS -
    startDelaySeconds -
    input.rampUpSeconds -
    Math.ceil(maxTimeoutOf(input.scenario) / 1000);
  if (seconds > spare) {
    const field = input.load.model === 'stages' ? 'load.stages' : 'load.durationSeconds';
    throw new InvalidInputError(
      field,
      `${seconds} s of load cannot end inside one ${WORKER_TIMEOUT_SECONDS} s worker Lambda after a ${startDelaySeconds} s start delay and ${input.rampUpSeconds} s ramp-up; the largest duration that fits is ${Math.max(0, spare)} s`,
    );
  }
}

/** Logins per second the plan budgets for: under Cognito's 120 RPS for AdminInitiateAuth. */
export const LOGINS_PER_SECOND = 100;

/**
 * Seconds from fan-out to the start barrier: 5 s to start the workers, plus time for every user to log
 * in within the auth quota (10,000 users: 105 s), unless the input says otherwise.
 */
export const startDelayFor = (input: RunInput): number =>
  input.startDelaySeconds ?? 5 + Math.ceil(input.users / LOGINS_PER_SECOND);

export function buildPlan(
  input: RunInput,
  runId: string,
  keyId: string,
  maxConcurrentWorkers: number,
  dataRows: number | null = null,
): RunPlan {
  const usersPerWorker = usersPerWorkerFor(input, maxConcurrentWorkers);
  const startDelaySeconds = startDelayFor(input);
  checkFitsLambda(input, startDelaySeconds);
  return {
    runId,
    users: input.users,
    load: input.load,
    keyId,
    shards: splitRange(input.users, USERS_PER_SHARD).map((range, shard) => ({ shard, ...range })),
    groups: splitRange(input.users, WORKERS_PER_GROUP * usersPerWorker),
    workers: Math.ceil(input.users / usersPerWorker),
    worker: {
      runId,
      users: input.users,
      load: input.load,
      rampUpSeconds: input.rampUpSeconds,
      usersPerWorker,
      startDelaySeconds,
      scenario: input.scenario,
      dataRows,
      abortOnFail:
        input.thresholds.abortOnFail && input.thresholds.maxErrorRate !== undefined
          ? { maxErrorRate: input.thresholds.maxErrorRate, minRequests: input.thresholds.abortOnFail.minRequests }
          : null,
    },
    thresholds: input.thresholds,
  };
}

/** Execution names become S3 key prefixes: keep them to a safe alphabet. */
export function runIdFrom(executionName: string): string {
  const cleaned = executionName.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 80);
  return cleaned || `run-${Date.now()}`;
}

/** The Provision Map's MaxConcurrency in stepfunctions/create-users-and-fan-out.asl.yml (a config test checks). */
export const PROVISION_PARALLEL_SHARDS = 5;
