import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseTargetUrl } from '../lib/config';
import { setLogSink } from '../lib/log';
import { formatCleanup, formatReport, progressLine, readableCause } from './format';
import { type Progress, runLocal, stopActiveRuns } from './local-run';

export const EXIT = { ok: 0, thresholdsFailed: 1, error: 2 } as const;

const HELP = `apiloadtest local — run the real workflows against local emulators and a sample protected API

Usage: npm run local -- [options]

  --users N            test users, one worker each (default 10, max 10000)
  --calls N            requests per user (default 20)
  --concurrency N      requests in flight per user (default 1)
  --users-per-worker N users one worker Lambda runs (default: 1, more past 800 users)
  --target URL         a loopback API to load instead of the sample one (http://127.0.0.1:PORT/path)
  --path PATH          request path appended to the target (default none)
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

Exit status: 0 success, 1 thresholds failed, 2 error.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliOptions {
  users: number;
  calls: number;
  concurrency: number | undefined;
  usersPerWorker: number | undefined;
  target: string | undefined;
  path: string | undefined;
  startDelay: number | undefined;
  thresholds: Record<string, number> | undefined;
  json: string | undefined;
  html: string | undefined;
  keep: boolean;
  verbose: boolean;
  help: boolean;
}

const LOOPBACK = /^(127(?:\.\d{1,3}){3}|localhost|\[::1\])$/;

function integer(flag: string, value: string | undefined, fallback: number | undefined, min: number, max: number) {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a whole number, got "${value}"`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${parsed}`);
  return parsed;
}

function decimal(flag: string, value: string | undefined, min: number, max: number) {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`--${flag} must be a number between ${min} and ${max}, got "${value}"`);
  }
  return parsed;
}

/** Parses and checks every flag before anything starts. */
export function parseCli(argv: readonly string[]): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  // `--calls -1` would read as two flags: keep a negative number with its flag, so the range check names it.
  const args = argv.flatMap((arg, i) =>
    /^-\d/.test(arg) && argv[i - 1]?.startsWith('--') && !argv[i - 1]?.includes('=')
      ? []
      : [/^--[^=]+$/.test(arg) && /^-\d/.test(argv[i + 1] ?? '') ? `${arg}=${argv[i + 1]}` : arg],
  );
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        users: { type: 'string' },
        calls: { type: 'string' },
        concurrency: { type: 'string' },
        'users-per-worker': { type: 'string' },
        target: { type: 'string' },
        path: { type: 'string' },
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
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify.*$/s, ''));
  }
  const str = (name: string) => values[name] as string | undefined;
  let target = str('target');
  if (target !== undefined) {
    let url: URL;
    try {
      url = parseTargetUrl(target);
    } catch (error) {
      throw new UsageError(`--target ${(error as Error).message}`);
    }
    // Local runs never leave this machine.
    if (!LOOPBACK.test(url.hostname))
      throw new UsageError(`--target must be a loopback address (127.0.0.1, localhost, [::1]), got "${url.hostname}"`);
    target = url.href;
  }
  const path = str('path');
  if (path !== undefined && !path.startsWith('/')) throw new UsageError(`--path must start with "/", got "${path}"`);
  const thresholds: Record<string, number> = {};
  const p95 = decimal('p95', str('p95'), 0, 3_600_000);
  const p99 = decimal('p99', str('p99'), 0, 3_600_000);
  const maxErrorRate = decimal('max-error-rate', str('max-error-rate'), 0, 1);
  const minRps = decimal('min-rps', str('min-rps'), 0, 1e9);
  if (p95 !== undefined) thresholds.p95Ms = p95;
  if (p99 !== undefined) thresholds.p99Ms = p99;
  if (maxErrorRate !== undefined) thresholds.maxErrorRate = maxErrorRate;
  if (minRps !== undefined) thresholds.minThroughputRps = minRps;
  return {
    users: integer('users', str('users'), 10, 1, 10_000) as number,
    calls: integer('calls', str('calls'), 20, 1, 100_000) as number,
    concurrency: integer('concurrency', str('concurrency'), undefined, 1, 256),
    usersPerWorker: integer('users-per-worker', str('users-per-worker'), undefined, 1, 100),
    target,
    path,
    startDelay: integer('start-delay', str('start-delay'), undefined, 0, 600),
    thresholds: Object.keys(thresholds).length > 0 ? thresholds : undefined,
    json: str('json'),
    html: str('html'),
    keep: values.keep === true,
    verbose: values.verbose === true,
    help: values.help === true,
  };
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
      request: options.path ? { path: options.path } : undefined,
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
    if (result.failure?.error === 'ThresholdsFailed') return EXIT.thresholdsFailed;
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

if (require.main === module) {
  // The SDK's notice that it will need Node 22 from 2027 is noise on every run here; README says so.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\napiloadtest: ${signal}, stopping emulators…\n`);
    void stopActiveRuns().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`apiloadtest: ${(error as Error).message}\n`);
      process.exit(EXIT.error);
    },
  );
}
