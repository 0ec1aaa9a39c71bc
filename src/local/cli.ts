import { closeSync, existsSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { parseTargetUrl } from '../lib/config';
import { type ErrorName, InvalidInputError } from '../lib/errors';
import { DEFAULTS, LIMITS, parseRunInput, type RunInput } from '../lib/input';
import { setLogSink } from '../lib/log';
import { usersPerWorkerFor } from '../lib/plan';
import { LOCAL_MAX_CONCURRENT_WORKERS } from './environment';
import { formatCleanup, formatReport, progressLine, readableCause } from './format';
import { type Progress, runLocal, stopActiveRuns } from './local-run';

export const EXIT = { ok: 0, verdictFailed: 1, error: 2 } as const;

/** Failed executions that are verdicts on a run that happened (exit 1), not tool errors (exit 2). */
const VERDICTS: readonly string[] = ['NoResponses', 'WorkersFailed', 'ThresholdsFailed'] satisfies ErrorName[];

const HELP = `apiloadtest local — run the real workflows against local emulators and a sample protected API

Usage: npm run local -- [options]

  --users N            test users, one worker each (default 10, max ${LIMITS.maxUsers})
  --calls N            requests per user (default 20, max ${LIMITS.maxCallsPerUser})
  --concurrency N      requests in flight per user (default 1, max ${LIMITS.maxConcurrencyPerUser})
  --users-per-worker N users one worker Lambda runs (default: 1, more past 800 users)
  --target URL         a loopback API to load instead of the sample one (http://127.0.0.1:PORT/path)
  --path PATH          request path appended to the target (default none)
  --header 'NAME: V'   a request header; repeat for more
  --timeout-ms MS      per-request timeout (default ${DEFAULTS.timeoutMs}, max ${LIMITS.maxTimeoutMs})
  --start-delay S      seconds between fan-out and the start barrier (default 1 + 1 per 50 users)
  --p95 MS             fail (exit 1) when p95 latency exceeds MS
  --p99 MS             fail when p99 latency exceeds MS
  --max-error-rate R   fail when failed/total exceeds R (0..1)
  --min-rps N          fail when throughput is below N requests/s
  --json FILE          write report.json to FILE
  --html FILE          write report.html to FILE
  --keep               skip the cleanup workflow (deleteTestUsers)
  --verbose            show stack traces on errors
  -h, --help           this text

Each flag may be given once, except --header.
Exit status: 0 passed, 1 the run failed its verdict (no response, failed workers, thresholds), 2 bad input or tool error, 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  users: number;
  calls: number;
  concurrency: number | undefined;
  usersPerWorker: number | undefined;
  target: string | undefined;
  startDelay: number | undefined;
  /** The execution input's `request` section, as given (path, headers, timeoutMs). */
  request: Record<string, unknown> | undefined;
  thresholds: Record<string, number> | undefined;
  json: string | undefined;
  html: string | undefined;
  keep: boolean;
  verbose: boolean;
  help: boolean;
}

const OPTIONS = {
  users: { type: 'string' },
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
  'request.path': '--path',
  'request.headers': '--header',
  'request.timeoutMs': '--timeout-ms',
  'thresholds.p95Ms': '--p95',
  'thresholds.p99Ms': '--p99',
  'thresholds.maxErrorRate': '--max-error-rate',
  'thresholds.minThroughputRps': '--min-rps',
};

/** The parser's message with the flag's name for the field's: `request.path: …` -> `--path: …`. */
function flagMessage(error: InvalidInputError, reason: string): string {
  const header = /^request\.headers\.(.+)$/.exec(error.field)?.[1];
  if (header !== undefined) return `--header "${header}": ${reason}`;
  const flag = FLAG_OF_FIELD[error.field];
  return flag ? `${flag}: ${reason}` : `${error.field}: ${reason}`;
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
export function parseCli(argv: readonly string[]): CliOptions {
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
  const given = <T>(entries: Record<string, T | undefined>) => {
    const out = Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const request = given({
    path: values.path,
    headers: parseHeaders(values.header ?? []),
    timeoutMs: values['timeout-ms'],
  });
  const input = {
    users: given({
      NumberOfUsers: values.users ?? '10',
      NumberOfCallsPerUser: values.calls ?? '20',
      ConcurrencyPerUser: values.concurrency,
      UsersPerWorker: values['users-per-worker'],
      StartDelaySeconds: values['start-delay'],
    }),
    ...(request ? { request } : {}),
    thresholds: given({
      p95Ms: values.p95,
      p99Ms: values.p99,
      maxErrorRate: values['max-error-rate'],
      minThroughputRps: values['min-rps'],
    }),
  };
  let run: RunInput;
  try {
    run = parseRunInput(input);
    // The Plan's checks that need the concurrency budget (users per worker × concurrency, worker count).
    usersPerWorkerFor(run, LOCAL_MAX_CONCURRENT_WORKERS);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    throw new UsageError(flagMessage(error, error.reason));
  }
  const thresholds = Object.fromEntries(Object.entries(run.thresholds).filter(([, v]) => v !== undefined));
  return {
    users: run.users,
    calls: run.callsPerUser,
    concurrency: values.concurrency === undefined ? undefined : run.concurrencyPerUser,
    usersPerWorker: run.usersPerWorker,
    target: values.target === undefined ? undefined : loopbackTarget(values.target),
    startDelay: run.startDelaySeconds,
    request: request && { ...request, ...(request.timeoutMs ? { timeoutMs: run.request.timeoutMs } : {}) },
    thresholds: Object.keys(thresholds).length > 0 ? thresholds : undefined,
    json: values.json,
    html: values.html,
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

/** A live line on a TTY; plain lines every few seconds (and on each phase change) otherwise. */
function progressPrinter(stream: NodeJS.WriteStream): { update: (p: Progress) => void; end: () => void } {
  let lastLine = '';
  let lastPhase = '';
  let lastPrinted = 0;
  return {
    update: (p) => {
      const line = progressLine(p);
      if (stream.isTTY) {
        if (line !== lastLine) stream.write(`\r\x1b[2K${line}`);
      } else if (p.phase !== lastPhase || Date.now() - lastPrinted >= 5000) {
        if (line !== lastLine) stream.write(`${line}\n`);
        lastPrinted = Date.now();
      }
      lastLine = line;
      lastPhase = p.phase;
    },
    end: () => {
      if (stream.isTTY && lastLine) stream.write('\r\x1b[2K');
    },
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(argv);
    if (options.json !== undefined && options.json === options.html)
      throw new UsageError('--html: names the same file as --json');
    if (options.json !== undefined) checkWritable('json', options.json);
    if (options.html !== undefined) checkWritable('html', options.html);
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
  try {
    const result = await runLocal({
      users: options.users,
      calls: options.calls,
      concurrency: options.concurrency,
      usersPerWorker: options.usersPerWorker,
      startDelaySeconds: options.startDelay,
      target: options.target,
      thresholds: options.thresholds,
      request: options.request,
      keep: options.keep,
      onProgress: printer.update,
    });
    printer.end();
    if (result.report) {
      process.stdout.write(`\n${formatReport(result.report)}\n`);
      if (options.json) writeFileSync(options.json, `${JSON.stringify(result.report, null, 2)}\n`);
      if (options.html) {
        const { renderHtml } = await import('../lib/report/html');
        writeFileSync(options.html, renderHtml(result.report));
      }
    }
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

/**
 * The process entry (npm run local, bin/apiloadtest.js): SIGINT/SIGTERM stop the emulators and the
 * servers, and the exit handlers remove the work dir, so stopping this one process stops everything.
 */
export function runCli(argv: readonly string[]): void {
  // The SDK's notice that it will need Node 22 from 2027 is noise on every run here; README says so.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // 128 + the signal's number, as a shell reports a process the signal ended.
    const code = 128 + (constants.signals[signal] ?? 15);
    // A second signal: stop waiting.
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`\napiloadtest: ${signal}, stopping emulators…\n`);
    setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
    void stopActiveRuns().finally(() => process.exit(code));
  };
  // SIGHUP: the terminal closed.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  main(argv).then(
    // Once stopping, the run fails as its emulators go: the signal's exit code is the one that tells.
    (code) => stopping || process.exit(code),
    (error) => {
      process.stderr.write(`apiloadtest: ${(error as Error).message}\n`);
      process.exit(EXIT.error);
    },
  );
}

if (require.main === module) runCli(process.argv.slice(2));
