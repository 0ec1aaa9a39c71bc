import { DEFAULT_COGNITO_WRITE_RPS, DEFAULT_MAX_CONCURRENT_WORKERS } from '../lib/config';
import { ASSUMED, type Estimate, estimateRun, usd } from '../lib/estimate/estimate';
import { parseRunInput } from '../lib/input';
import { EXIT, parseCli, UsageError } from './cli';

const HELP = `apiloadtest plan — estimate a run's start-up, AWS usage and cost before launching it

Usage: npm run plan -- [options of npm run local] [options]

  --region R                  price the run in region R (default us-east-1)
  --cognito-write-rps N       the stack's Cognito write rate (default ${DEFAULT_COGNITO_WRITE_RPS}, LOADTEST_COGNITO_WRITE_RPS)
  --max-concurrent-workers N  the stack's worker budget (default ${DEFAULT_MAX_CONCURRENT_WORKERS}, LOADTEST_MAX_CONCURRENT_WORKERS)
  --assume-latency-ms MS      response time assumed where the model does not fix the load's length (default ${ASSUMED.latencyMs})
  --json                      print the estimate as JSON
  -h, --help                  this text

The run is described exactly as for npm run local (--users, --calls, --rate, --duration, --stages,
--input FILE, ...; see npm run local -- --help). Nothing is sent anywhere: the estimate is arithmetic
on the input, the quotas and the price table (src/lib/estimate/prices.ts, dated; check it).
Exit status: 0 estimate printed, 2 bad input.`;

/** Flags of the plan itself; every other argument is npm run local's and goes to its parser. */
const PLAN_FLAGS = ['region', 'cognito-write-rps', 'max-concurrent-workers', 'assume-latency-ms'] as const;
type PlanFlag = (typeof PLAN_FLAGS)[number];

export interface PlanOptions {
  readonly input: Record<string, unknown>;
  readonly region: string;
  readonly cognitoWriteRps: number;
  readonly maxConcurrentWorkers: number;
  readonly assumedLatencyMs: number;
  readonly json: boolean;
  readonly help: boolean;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function positive(flag: PlanFlag, text: string, { integer, max }: { integer: boolean; max: number }): number {
  const value = Number(text);
  if (
    text.trim() === '' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    value > max ||
    (integer && !Number.isInteger(value))
  )
    throw new UsageError(`--${flag}: must be a positive ${integer ? 'whole ' : ''}number up to ${max}, got "${text}"`);
  return value;
}

/** Takes the plan's own flags out of argv; the rest is parsed by npm run local's parseCli. */
export function parsePlanCli(argv: readonly string[]): PlanOptions {
  const given = new Map<PlanFlag, string>();
  let json = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--json') {
      if (json) throw new UsageError('--json: is given more than once');
      json = true;
      continue;
    }
    const match = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    const flag = PLAN_FLAGS.find((f) => f === match?.[1]);
    if (!flag) {
      rest.push(arg);
      continue;
    }
    if (given.has(flag)) throw new UsageError(`--${flag}: is given more than once`);
    const value = match?.[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${flag}: needs a value`);
    given.set(flag, value);
  }
  const region = given.get('region') ?? 'us-east-1';
  if (!REGION.test(region)) throw new UsageError(`--region: must be a region name such as eu-west-1, got "${region}"`);
  const read = (flag: PlanFlag, fallback: number, rule: { integer: boolean; max: number }) => {
    const text = given.get(flag);
    return text === undefined ? fallback : positive(flag, text, rule);
  };
  const maxConcurrentWorkers = read('max-concurrent-workers', DEFAULT_MAX_CONCURRENT_WORKERS, {
    integer: true,
    max: 100_000,
  });
  // The input is judged against the cloud budget being planned, not the local one.
  const cli = parseCli(rest, { maxConcurrentWorkers });
  return {
    input: cli.input,
    region,
    cognitoWriteRps: read('cognito-write-rps', DEFAULT_COGNITO_WRITE_RPS, { integer: false, max: 10_000 }),
    maxConcurrentWorkers,
    assumedLatencyMs: read('assume-latency-ms', ASSUMED.latencyMs, { integer: false, max: 600_000 }),
    json,
    help: cli.help,
  };
}

const n = (value: number, digits = 1): string => value.toLocaleString('en-US', { maximumFractionDigits: digits });
const seconds = (value: number): string => `${n(value)} s`.padStart(10);

/** The estimate as a readable table for the terminal. */
export function formatEstimate(e: Estimate): string {
  const p = e.plan;
  const t = e.timeline;
  const lines = [
    `plan       ${n(p.users)} users in ${n(p.shards)} shards; ${n(p.workers)} workers of ${n(p.usersPerWorker)} users in ${n(p.groups)} groups; start delay ${n(p.startDelaySeconds)} s`,
    `region     ${e.region}: prices of ${e.prices.pricedAs} as of ${e.prices.date}${e.prices.fallback ? ` (FALLBACK: the table has no ${e.region})` : ''}`,
    '',
    'timeline   (seconds from the start of the execution; * quota-bound, ~ assumed)',
    ...t.steps.map(
      (s) =>
        `  ${n(s.startsAt).padStart(8)}  ${`${s.step}${s.quotaBound ? ' *' : ''}${s.assumed ? ' ~' : ''}`.padEnd(20)}${seconds(s.seconds)}  ${s.detail}`,
    ),
    `start-up   ${n(t.startupSeconds)} s (${n(t.startupSeconds / 60)} min) before the first request; load ${n(t.loadSeconds)} s${t.loadSecondsAssumed ? ' (assumed)' : ''}; run ${n(t.runSeconds)} s; cleanup ${n(t.cleanupSeconds)} s`,
    '',
    `lambda     peak concurrency ${n(e.lambda.peakConcurrency)} of a budget of ${n(e.lambda.budget)} (account default ${n(e.lambda.accountDefault)}); each worker runs ~${n(e.lambda.workerSeconds)} s`,
    ...Object.entries(e.lambda.functions)
      .filter(([, f]) => f.invocations > 0)
      .map(
        ([name, f]) =>
          `  ${name.padEnd(18)} ${n(f.invocations).padStart(7)} invocations × ${String(f.memoryMb).padStart(4)} MB  ${n(f.gbSeconds).padStart(10)} GB-s`,
      ),
    `usage      ${n(e.usage.stateTransitions)} state transitions; S3 ${n(e.usage.s3.putListRequests)} PUT/LIST, ${n(e.usage.s3.getRequests)} GET; Secrets Manager ${n(e.usage.secretsManager.apiCalls)} calls; KMS ${n(e.usage.kms.requests)} requests; Cognito ${n(e.usage.cognito.userCreationCalls)} writes, ${n(e.usage.cognito.logins)} logins, ${n(e.usage.cognitoMau)} MAU`,
    `target     ${n(e.target.requests, 0)} requests${e.target.requestsAssumed ? ' (assumed latency)' : ''}; up to ${n(e.target.peakRps, 0)} requests/s${e.target.peakRpsAssumed ? ' (assumed latency)' : ''}`,
    '',
    'cost (USD)',
    ...e.cost.lines.map((l) => `  ${l.service.padEnd(18)} ${usd(l.usd).padStart(10)}  ${l.detail}`),
    `  ${'total'.padEnd(18)} ${usd(e.cost.totalUsd).padStart(10)}`,
    '',
    'assumed',
    ...e.assumptions.map((a) => `  - ${a}`),
  ];
  if (e.warnings.length > 0) lines.push('', 'WARNINGS', ...e.warnings.map((w) => `  ! ${w.code}: ${w.message}`));
  return lines.join('\n');
}

export function main(argv: readonly string[]): number {
  let options: PlanOptions;
  try {
    options = parsePlanCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n(npm run plan -- --help for usage)\n`);
    return EXIT.error;
  }
  if (options.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  const estimate = estimateRun(parseRunInput(options.input), options);
  process.stdout.write(options.json ? `${JSON.stringify(estimate, null, 2)}\n` : `${formatEstimate(estimate)}\n`);
  return EXIT.ok;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
