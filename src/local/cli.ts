import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTargetUrl } from '../lib/config';
import { parseDataFile } from '../lib/data';
import { type ErrorName, InvalidInputError } from '../lib/errors';
import { DEFAULTS, dataColumnsUsed, LIMITS, parseRunInput } from '../lib/input';
import { setLogSink } from '../lib/log';
import { checkFitsLambda, startDelayFor, usersPerWorkerFor } from '../lib/plan';
import { renderHtml } from '../lib/report/html';
import { renderJunit } from '../lib/report/junit';
import { givenPercent } from '../lib/report/numbers';
import { type Baseline, compareWithBaseline, readBaseline } from './baseline';
import { LOCAL_MAX_CONCURRENT_WORKERS } from './environment';
import { formatCleanup, formatReport, progressPrinter, readableCause } from './format';
import { requestStop, runLocal, stopActiveRuns } from './local-run';
import { EXIT, UsageError } from './usage';

export { EXIT, UsageError };

/** Failed executions that are verdicts on a run that happened (exit 1), not tool errors (exit 2). */
const VERDICTS: readonly string[] = [
  'NoResponses',
  'Stopped',
  'WorkersFailed',
  'ThresholdsFailed',
] satisfies ErrorName[];

const HELP = `apiloadtest local — run the real workflows against local emulators and a sample protected API

Usage: npm run local -- [options]

  --input FILE         an execution input (JSON), as for sls invoke stepf --data; flags override its fields
  --data FILE          per-user rows (CSV with a header row, or a JSON array): user i gets row i mod rows
  --users N            test users, one worker each (default 10, max ${LIMITS.maxUsers})
  --calls N            requests per user: the iterations model (default 20, max ${LIMITS.maxCallsPerUser})
  --concurrency N      requests in flight per user, iterations and duration (default 1, max ${LIMITS.maxConcurrencyPerUser})
  --duration S         each user sends for S seconds (with --rate: the rate's duration)
  --rate R             open model: each user starts R requests/s for --duration S
  --stages S:R,...     open model: per-user rate ramps, e.g. 60:50,300:50,60:0 (seconds:target)
  --max-in-flight M    open models: requests in flight per user (default: the peak rate, at least 4)
  --max-queue-ms MS    open models: drop a request still waiting this long for a slot (default 1000)
  --ramp-up S          spread user start times evenly over S seconds
  --users-per-worker N users one worker Lambda runs (default: 1, more past 800 users)
  --target URL         a loopback API to load instead of the sample one (http://127.0.0.1:PORT/path)
  --method M           request method (default GET)
  --path PATH          request path appended to the target (default none)
  --body TEXT          request body (JSON is sent as application/json)
  --header 'NAME: V'   a request header; repeat for more
  --timeout-ms MS      per-request timeout (default ${DEFAULTS.timeoutMs}, max ${LIMITS.maxTimeoutMs})
  --start-delay S      seconds between fan-out and the start barrier (default 1 + 1 per 50 users)
  --p95 MS             fail (exit 1) when p95 latency exceeds MS
  --p99 MS             fail when p99 latency exceeds MS
  --max-error-rate R   fail when failed/total exceeds R (0..1)
  --min-rps N          fail when throughput is below N requests/s
  --json FILE          write report.json to FILE
  --html FILE          write report.html to FILE
  --junit FILE         write the verdict as JUnit XML to FILE (one test case per threshold)
  --baseline FILE      an earlier run's report.json: print the comparison after the report, show the
                       baseline in --html, and exit 1 on a regression past --max-regression
  --max-regression X   with --baseline: allowed change, 10% or 0.1 (default 10%), as npm run report
  --keep               skip the cleanup workflow (deleteTestUsers)
  --verbose            show stack traces on errors
  -h, --help           this text

Each flag may be given once, except --header. Ctrl-C during the load stops it (the stop switch): the
run still aggregates, reports (stopped) and cleans up; a second Ctrl-C stops at once.
Exit status: 0 passed, 1 the run failed its verdict (no response, stopped, failed workers, thresholds)
or regressed past --max-regression, 2 bad input or tool error, 130/143/129 ended at once by a second
SIGINT/SIGTERM/SIGHUP.`;

export interface CliOptions {
  /** The execution input the flags (and --input) describe, already judged by parseRunInput. */
  input: Record<string, unknown>;
  /** --data: uploaded to the local results bucket under input.data.key before the run. */
  dataFile: { key: string; body: string } | undefined;
  target: string | undefined;
  json: string | undefined;
  html: string | undefined;
  junit: string | undefined;
  /** --baseline, already read and judged: a bad file fails before anything starts. */
  baseline: Baseline | undefined;
  keep: boolean;
  verbose: boolean;
  help: boolean;
}

const OPTIONS = {
  input: { type: 'string' },
  data: { type: 'string' },
  users: { type: 'string' },
  duration: { type: 'string' },
  rate: { type: 'string' },
  stages: { type: 'string' },
  'max-in-flight': { type: 'string' },
  'max-queue-ms': { type: 'string' },
  'ramp-up': { type: 'string' },
  method: { type: 'string' },
  body: { type: 'string' },
  calls: { type: 'string' },
  concurrency: { type: 'string' },
  'users-per-worker': { type: 'string' },
  target: { type: 'string' },
  path: { type: 'string' },
  header: { type: 'string', multiple: true },
  'timeout-ms': { type: 'string' },
  'start-delay': { type: 'string' },
  p95: { type: 'string' },
  p99: { type: 'string' },
  'max-error-rate': { type: 'string' },
  'min-rps': { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  junit: { type: 'string' },
  baseline: { type: 'string' },
  'max-regression': { type: 'string' },
  keep: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const readArgs = (args: string[]) =>
  parseArgs({ args, strict: true, allowPositionals: false, tokens: true, options: OPTIONS });

/** The execution input field each flag fills, for naming the flag in the parser's messages. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  'users.NumberOfUsers': '--users',
  'users.NumberOfCallsPerUser': '--calls',
  'users.ConcurrencyPerUser': '--concurrency',
  'users.UsersPerWorker': '--users-per-worker',
  'users.StartDelaySeconds': '--start-delay',
  'load.iterations': '--calls',
  'load.concurrency': '--concurrency',
  'load.durationSeconds': '--duration',
  'load.ratePerSecond': '--rate',
  'load.stages': '--stages',
  'load.maxInFlight': '--max-in-flight',
  'load.maxQueueMs': '--max-queue-ms',
  'load.rampUpSeconds': '--ramp-up',
  'request.method': '--method',
  'request.path': '--path',
  'request.body': '--body',
  'request.headers': '--header',
  'data.key': '--data',
  'request.timeoutMs': '--timeout-ms',
  'thresholds.p95Ms': '--p95',
  'thresholds.p99Ms': '--p99',
  'thresholds.maxErrorRate': '--max-error-rate',
  'thresholds.minThroughputRps': '--min-rps',
};

/**
 * The parser's message with the flag's name for the field's (`request.path: …` -> `--path: …`) when a
 * flag set it; a field that came from --input keeps its name and says so.
 */
function flagMessage(error: InvalidInputError, reason: string, fromFlags: ReadonlySet<string>): string {
  const header = /^request\.headers\.(.+)$/.exec(error.field)?.[1];
  if (header !== undefined && fromFlags.has('header')) return `--header "${header}": ${reason}`;
  const field = error.field.replace(/\[\d+\].*$/, '');
  const flag = FLAG_OF_FIELD[field];
  if (flag && fromFlags.has(flag.slice(2))) return `${flag}: ${reason}`;
  return fromFlags.has('input') ? `--input: ${error.field}: ${reason}` : `${flag ?? error.field}: ${reason}`;
}

/** `--stages 60:50,300:50,60:0` -> the `stages` model's list. */
function parseStagesFlag(value: string): { durationSeconds: string; target: string }[] {
  return value.split(',').map((part) => {
    const match = /^\s*([^:\s]+)\s*:\s*([^:\s]+)\s*$/.exec(part);
    if (!match)
      throw new UsageError(
        `--stages: must be SECONDS:RATE pairs separated by commas, e.g. 60:50,300:50,60:0; got "${part}"`,
      );
    return { durationSeconds: match[1] ?? '', target: match[2] ?? '' };
  });
}

/** --data FILE: read now (a missing file fails before anything starts), uploaded under data/ by the run. */
function readDataFlag(file: string): { key: string; body: string } {
  const name = basename(file);
  if (!/\.(csv|json)$/i.test(name)) throw new UsageError(`--data: must be a .csv or .json file, got "${file}"`);
  try {
    return { key: `data/${name.replace(/[^A-Za-z0-9._-]/g, '-')}`, body: readFileSync(file, 'utf8') };
  } catch (error) {
    throw new UsageError(
      `--data: cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

function readInputFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--input: cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--input: "${file}" is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`--input: "${file}" must hold a JSON object (an execution input)`);
  return parsed as Record<string, unknown>;
}

type Section = Record<string, unknown>;
const section = (input: Section, name: string): Section => {
  const value = input[name];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Section) } : {};
};
/** Sets the fields given (not undefined), keeping the rest. */
const withGiven = (base: Section, entries: Section): Section => {
  const out = { ...base };
  for (const [key, value] of Object.entries(entries)) if (value !== undefined) out[key] = value;
  return out;
};

/**
 * The execution input: --input's, with each flag given overriding its field. A model flag (--duration,
 * --rate, --stages) replaces the file's load; --calls and --concurrency keep the seed's form when
 * there is no load model.
 */
function buildInput(values: ReturnType<typeof readArgs>['values']): Section {
  const input: Section = values.input === undefined ? {} : readInputFile(values.input);
  const users = withGiven(section(input, 'users'), {
    NumberOfUsers: values.users,
    UsersPerWorker: values['users-per-worker'],
    StartDelaySeconds: values['start-delay'],
  });
  let load: Section | undefined = input.load === undefined ? undefined : section(input, 'load');
  const openOptions = { maxInFlight: values['max-in-flight'], maxQueueMs: values['max-queue-ms'] };
  if (values.rate !== undefined) {
    load = withGiven({ model: 'rate', ratePerSecond: values.rate, durationSeconds: values.duration }, openOptions);
  } else if (values.stages !== undefined) {
    load = withGiven({ model: 'stages', stages: parseStagesFlag(values.stages) }, openOptions);
  } else if (values.duration !== undefined) {
    load = withGiven({ model: 'duration', durationSeconds: values.duration }, { concurrency: values.concurrency });
  } else if (load) {
    load = withGiven(load, {
      ...(load.model === 'iterations' ? { iterations: values.calls } : {}),
      concurrency: values.concurrency,
      ...openOptions,
    });
  } else if (values['ramp-up'] !== undefined || values['max-in-flight'] !== undefined) {
    // Ramp-up is a load option: the seed's form becomes the iterations model it means.
    load = withGiven(
      { model: 'iterations', iterations: values.calls ?? users.NumberOfCallsPerUser ?? '20' },
      { concurrency: values.concurrency ?? users.ConcurrencyPerUser, ...openOptions },
    );
    delete users.NumberOfCallsPerUser;
    delete users.ConcurrencyPerUser;
  } else {
    Object.assign(
      users,
      withGiven(
        { NumberOfCallsPerUser: users.NumberOfCallsPerUser ?? '20' },
        {
          NumberOfCallsPerUser: values.calls,
          ConcurrencyPerUser: values.concurrency,
        },
      ),
    );
  }
  if (load) {
    if (values['ramp-up'] !== undefined) load.rampUpSeconds = values['ramp-up'];
    // The file's seed fields would conflict with the model the flags chose.
    if (values.rate !== undefined || values.stages !== undefined || values.duration !== undefined) {
      delete users.NumberOfCallsPerUser;
      delete users.ConcurrencyPerUser;
    }
  }
  users.NumberOfUsers ??= '10';
  let body: unknown = values.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: sent as the text it is
    }
  }
  const headers = parseHeaders(values.header ?? []);
  const request = withGiven(section(input, 'request'), {
    method: values.method,
    path: values.path,
    body,
    timeoutMs: values['timeout-ms'],
    ...(headers ? { headers: { ...section(section(input, 'request'), 'headers'), ...headers } } : {}),
  });
  const thresholds = withGiven(section(input, 'thresholds'), {
    p95Ms: values.p95,
    p99Ms: values.p99,
    maxErrorRate: values['max-error-rate'],
    minThroughputRps: values['min-rps'],
  });
  return {
    ...input,
    users,
    ...(load ? { load } : {}),
    ...(Object.keys(request).length > 0 ? { request } : {}),
    ...(Object.keys(thresholds).length > 0 ? { thresholds } : {}),
  };
}

const LOOPBACK = /^(127(?:\.\d{1,3}){3}|localhost|\[::1\])$/;

function loopbackTarget(value: string): string {
  let url: URL;
  try {
    url = parseTargetUrl(value);
  } catch (error) {
    throw new UsageError(`--target: ${(error as Error).message}`);
  }
  // Local runs never leave this machine.
  if (!LOOPBACK.test(url.hostname))
    throw new UsageError(`--target: must be a loopback address (127.0.0.1, localhost, [::1]), got "${url.hostname}"`);
  return url.href;
}

/** `--header 'name: value'`, each name once (in any case: HTTP names are case-insensitive). */
function parseHeaders(values: readonly string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const headers: Record<string, string> = {};
  const seen = new Set<string>();
  for (const value of values) {
    const colon = value.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header: must be "name: value", got "${value}"`);
    const name = value.slice(0, colon).trim();
    if (seen.has(name.toLowerCase())) throw new UsageError(`--header "${name}": is given more than once`);
    seen.add(name.toLowerCase());
    headers[name] = value.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * Reads the flags into the execution input and lets the Plan's own parser (parseRunInput) judge it, so
 * the CLI and the deployed state machine accept exactly the same runs. Everything is checked before
 * anything starts.
 */
export function parseCli(
  argv: readonly string[],
  { maxConcurrentWorkers = LOCAL_MAX_CONCURRENT_WORKERS }: { maxConcurrentWorkers?: number } = {},
): CliOptions {
  // `--calls -1` would read as two flags: keep a negative number with its flag, so the range check names it.
  const args = argv.flatMap((arg, i) =>
    /^-\d/.test(arg) && argv[i - 1]?.startsWith('--') && !argv[i - 1]?.includes('=')
      ? []
      : [/^--[^=]+$/.test(arg) && /^-\d/.test(argv[i + 1] ?? '') ? `${arg}=${argv[i + 1]}` : arg],
  );
  let parsed: ReturnType<typeof readArgs>;
  try {
    parsed = readArgs(args);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify.*$/s, ''));
  }
  // parseArgs keeps the last of a repeated flag: `--users 10 --users 1000` must not silently mean 1000.
  const counts = new Map<string, number>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || token.name === 'header') continue;
    counts.set(token.name, (counts.get(token.name) ?? 0) + 1);
    if (counts.get(token.name) === 2) throw new UsageError(`--${token.name}: is given more than once`);
  }
  const { values } = parsed;
  const fromFlags = new Set(parsed.tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : [])));
  const dataFile = values.data === undefined ? undefined : readDataFlag(values.data);
  const input = values.help ? {} : buildInput(values);
  if (dataFile) input.data = { key: dataFile.key };
  if (!values.help) {
    try {
      const run = parseRunInput(input);
      // The Plan's checks that need the concurrency budget (users per worker × in flight, worker count).
      usersPerWorkerFor(run, maxConcurrentWorkers);
      checkFitsLambda(run, startDelayFor(run));
      // The Plan reads the file again in the run; its rows and columns are judged here already.
      if (dataFile) parseDataFile(dataFile.key, dataFile.body, dataColumnsUsed(run.scenario));
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      throw new UsageError(flagMessage(error, error.reason, fromFlags));
    }
  }
  return {
    input,
    dataFile,
    target: values.target === undefined ? undefined : loopbackTarget(values.target),
    json: values.json,
    html: values.html,
    junit: values.junit,
    baseline: values.help ? undefined : readBaseline(values.baseline, values['max-regression']),
    keep: values.keep === true,
    verbose: values.verbose === true,
    help: values.help === true,
  };
}

/**
 * Fails now, not after the run, when a report file cannot be written: opened for append (created if
 * absent, then removed again), which is the check the final write will face.
 */
export function checkWritable(flag: string, file: string): void {
  const existed = existsSync(file);
  try {
    closeSync(openSync(file, 'a'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`--${flag}: cannot write "${file}" (${code ?? (error as Error).message})`);
  }
  if (!existed) rmSync(file, { force: true });
}

/** The thresholds the run was judged by (parseRunInput already accepted the input). */
const thresholdsOf = (input: Record<string, unknown>) => parseRunInput(input).thresholds;

export async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(argv);
    const outputs = (['json', 'html', 'junit'] as const).filter((flag) => options[flag] !== undefined);
    for (const [i, flag] of outputs.entries()) {
      const same = outputs.slice(0, i).find((other) => options[other] === options[flag]);
      if (same) throw new UsageError(`--${flag}: names the same file as --${same}`);
      checkWritable(flag, options[flag] as string);
    }
  } catch (error) {
    process.stderr.write(`apiloadtest: ${(error as Error).message}\nTry --help.\n`);
    return EXIT.error;
  }
  if (options.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  const printer = progressPrinter(process.stderr);
  // The handlers' JSON log lines (CloudWatch's, in the cloud) would break the progress line: --verbose shows them.
  setLogSink(options.verbose ? (_level, line) => process.stderr.write(`\n${line}\n`) : () => {});
  const { baseline } = options;
  let regressions = 0;
  try {
    // The report is printed and written as soon as it exists: a run stopped during cleanup keeps it.
    const result = await runLocal({
      input: options.input,
      dataFile: options.dataFile,
      target: options.target,
      keep: options.keep,
      onProgress: printer.update,
      onReport: (report) => {
        printer.end();
        process.stdout.write(`\n${formatReport(report)}\n`);
        if (baseline) {
          const comparison = compareWithBaseline(report, baseline);
          regressions = comparison.regressions;
          process.stdout.write(`\n${comparison.text}\n`);
        }
        if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
        if (options.html) writeFileSync(options.html, renderHtml(report, { baseline: baseline?.report }));
        if (options.junit) writeFileSync(options.junit, renderJunit(report, thresholdsOf(options.input)));
      },
    });
    printer.end();
    if (result.cleanup) process.stdout.write(`${formatCleanup(result.cleanup)}\n`);
    if (options.keep) process.stdout.write('cleanup    skipped (--keep)\n');
    if (result.cleanupFailure) {
      process.stderr.write(
        `apiloadtest: cleanup failed: ${result.cleanupFailure.error}: ${readableCause(result.cleanupFailure.cause)}\n`,
      );
      return EXIT.error;
    }
    if (result.failure && VERDICTS.includes(result.failure.error)) {
      process.stderr.write(`apiloadtest: ${result.failure.error}: ${readableCause(result.failure.cause)}\n`);
      return EXIT.verdictFailed;
    }
    if (result.failure) {
      process.stderr.write(
        `apiloadtest: run failed: ${result.failure.error}: ${readableCause(result.failure.cause)}\n`,
      );
      return EXIT.error;
    }
    if (baseline && regressions > 0) {
      process.stderr.write(
        `apiloadtest: Regression: ${regressions} figure(s) worse than the baseline by more than ${givenPercent(baseline.maxRegression)}\n`,
      );
      return EXIT.verdictFailed;
    }
    return EXIT.ok;
  } catch (error) {
    printer.end();
    const message = options.verbose ? ((error as Error).stack ?? String(error)) : (error as Error).message;
    process.stderr.write(`apiloadtest: ${message}\n`);
    return EXIT.error;
  }
}

/** Seconds a signal leaves for an orderly stop before the exit handlers kill and remove what is left. */
const STOP_GRACE_MS = 3500;
/** How long a graceful Ctrl-C may take to report and clean up before it becomes a hard stop. */
const DRAIN_LIMIT_MS = 30_000;

/**
 * The process entry (npm run local, bin/apiloadtest.js): SIGINT/SIGTERM stop the emulators and the
 * servers, and the exit handlers remove the work dir, so stopping this one process stops everything.
 */
export function runCli(argv: readonly string[]): void {
  // The SDK's notice that it will need Node 22 from 2027 is noise on every run here; README says so.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let stopping = false;
  let draining = false;
  const hardStop = (signal: NodeJS.Signals) => {
    // 128 + the signal's number, as a shell reports a process the signal ended.
    const code = 128 + (constants.signals[signal] ?? 15);
    // A second signal: stop waiting.
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`\napiloadtest: ${signal}, stopping emulators…\n`);
    setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
    void stopActiveRuns().finally(() => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C is the stop switch: the load stops, and the run still reports and cleans up. A second
    // Ctrl-C, or SIGTERM/SIGHUP (a CI runner or a container stopping), stops everything at once.
    if (signal !== 'SIGINT' || draining || stopping) return hardStop(signal);
    draining = true;
    void requestStop().then((raised) => {
      if (!raised) return hardStop(signal);
      process.stderr.write('\napiloadtest: stopping the load (Ctrl-C again to stop at once)…\n');
      setTimeout(() => hardStop(signal), DRAIN_LIMIT_MS).unref();
    });
  };
  // SIGHUP: the terminal closed.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  main(argv).then(
    // Once stopping, the run fails as its emulators go: the signal's exit code is the one that tells.
    // A drained run (graceful Ctrl-C) ends with its own verdict: Stopped.
    (code) => stopping || process.exit(code),
    (error) => {
      process.stderr.write(`apiloadtest: ${(error as Error).message}\n`);
      process.exit(EXIT.error);
    },
  );
}

if (require.main === module) runCli(process.argv.slice(2));
