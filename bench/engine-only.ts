/**
 * The engine alone against any URL, so anyone can compare it with any other load generator:
 *
 *   npm run -s bench -- --engine-only --url URL [--connections N] (--duration S | --amount N) [--json]
 *
 * One user, closed loop, N requests in flight (N keep-alive connections). With --json it prints exactly
 * one JSON line, {"requests","rps","cpuSeconds","p50Ms","p99Ms","errors"}; `-s` keeps npm's own banner
 * off standard output. cpuSeconds is user + system CPU of this whole process since it started
 * (module loading included: run the bundle `npm run bench` builds to leave tsx's compiling out).
 */
import { parseArgs } from 'node:util';
import { runLoad } from '../src/lib/load/engine';
import { latencySummary } from '../src/lib/load/histogram';
import type { LoadModel } from '../src/lib/load/model';
import { compileSingle } from '../src/lib/load/scenario';

export interface EngineOnlyOptions {
  readonly url: URL;
  readonly load: Extract<LoadModel, { model: 'iterations' | 'duration' }>;
  readonly json: boolean;
}

export interface EngineOnlyResult {
  /** Attempted requests: responses + transport failures. */
  readonly requests: number;
  readonly rps: number;
  readonly cpuSeconds: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Failed requests: non-2xx/3xx responses and transport failures. */
  readonly errors: number;
}

/** A flag the engine-only mode cannot use; the message names the flag and why. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export const ENGINE_ONLY_USAGE =
  'usage: npm run -s bench -- --engine-only --url URL [--connections N] (--duration S | --amount N) [--json]';

/** Connections above this would be a mistake on a loopback bench (and each is a socket and a loop). */
const MAX_CONNECTIONS = 10_000;
const DEFAULT_DURATION_SECONDS = 10;
const REQUEST_TIMEOUT_MS = 10_000;

function positiveInteger(flag: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new BenchUsageError(`--${flag}: must be a positive integer, got '${raw}'`);
  const value = Number(raw);
  if (value < 1 || value > max) throw new BenchUsageError(`--${flag}: must be between 1 and ${max}, got ${raw}`);
  return value;
}

/** Parses the engine-only flags (with or without the leading --engine-only); throws BenchUsageError. */
export function parseEngineOnlyArgs(argv: readonly string[]): EngineOnlyOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // node's messages already name the flag ("Unknown option '--x'", "Option '--url <value>' argument missing").
    throw new BenchUsageError(`${(error as Error).message}\n${ENGINE_ONLY_USAGE}`);
  }
  const { values } = parsed;
  if (values.url === undefined) throw new BenchUsageError(`--url: required\n${ENGINE_ONLY_USAGE}`);
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new BenchUsageError(`--url: not a URL: '${values.url}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new BenchUsageError(`--url: must be http: or https:, got '${url.protocol}'`);
  const connections = positiveInteger('connections', values.connections, MAX_CONNECTIONS) ?? 10;
  const duration = positiveInteger('duration', values.duration, 24 * 3600);
  const amount = positiveInteger('amount', values.amount, Number.MAX_SAFE_INTEGER);
  if (duration !== undefined && amount !== undefined)
    throw new BenchUsageError('--duration, --amount: give one or the other, not both');
  const load: EngineOnlyOptions['load'] =
    amount === undefined
      ? { model: 'duration', durationSeconds: duration ?? DEFAULT_DURATION_SECONDS, concurrency: connections }
      : { model: 'iterations', iterations: amount, concurrency: connections };
  return { url, load, json: values.json === true };
}

const parse = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      'engine-only': { type: 'boolean' },
      url: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      amount: { type: 'string' },
      json: { type: 'boolean' },
    },
  });

export async function runEngineOnly(options: EngineOnlyOptions): Promise<EngineOnlyResult> {
  const { url } = options;
  // The engine appends a request's path to the target's, and keeps only the target's path: the query rides on the request's.
  const scenario = compileSingle({
    method: 'GET',
    path: `${url.pathname}${url.search}`,
    headers: {},
    body: null,
    timeoutMs: REQUEST_TIMEOUT_MS,
  });
  // Else every request would count as invalid_request, as fast as the CPU allows.
  if (scenario.requests.some((r) => !r.sendable))
    throw new BenchUsageError(`--url: a path the engine cannot send: '${url.pathname}${url.search}'`);
  const result = await runLoad({
    target: new URL(url.origin),
    scenario,
    load: options.load,
    token: async () => 'bench-token',
  });
  const cpu = process.cpuUsage();
  const latency = latencySummary(result.latency.histogram, result.latency);
  const seconds = (result.finishedAt - result.startedAt) / 1000;
  return {
    requests: result.counters.total,
    rps: seconds > 0 ? Math.round(result.counters.total / seconds) : 0,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    p50Ms: latency?.p50 ?? null,
    p99Ms: latency?.p99 ?? null,
    errors: result.counters.failed,
  };
}

/** Runs the engine-only mode; returns the exit code (2 for bad flags, with the reason on stderr). */
export async function engineOnlyMain(argv: readonly string[]): Promise<number> {
  let options: EngineOnlyOptions;
  try {
    options = parseEngineOnlyArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    console.error(`bench --engine-only: ${error.message}`);
    return 2;
  }
  let out: EngineOnlyResult;
  try {
    out = await runEngineOnly(options);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    console.error(`bench --engine-only: ${error.message}`);
    return 2;
  }
  if (options.json) console.log(JSON.stringify(out));
  else
    console.log(
      `engine ${out.requests} requests, ${out.rps} req/s, p50 ${out.p50Ms} ms, p99 ${out.p99Ms} ms, ` +
        `${out.errors} errors, ${out.cpuSeconds.toFixed(2)} s CPU (${((out.cpuSeconds * 1e6) / Math.max(1, out.requests)).toFixed(1)} µs/request)`,
    );
  return 0;
}
