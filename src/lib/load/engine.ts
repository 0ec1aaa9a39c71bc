import pLimit from 'p-limit';
import { Pool } from 'undici';
import type { RequestSpec } from '../input';
import { type Histogram, newHistogram } from './histogram';
import { type Counters, countOutcome, newCounters } from './summary';

export interface LoadOptions {
  /** The target's base URL; the request path is appended to its path. */
  readonly target: URL;
  readonly request: RequestSpec;
  readonly calls: number;
  readonly concurrency: number;
  /**
   * Epoch ms after which no new request starts (the worker must finish before Lambda stops it); the
   * calls left are counted as not sent. Requests already in flight complete.
   */
  readonly deadline?: number;
  /** Returns a valid access token, refreshing it when it is close to expiry. */
  readonly token: () => Promise<string>;
  readonly now?: () => number;
}

export interface LoadResult {
  readonly counters: Counters;
  readonly histogram: Histogram;
  readonly minLatencyUs: number;
  readonly maxLatencyUs: number;
  readonly startedAt: number;
  readonly finishedAt: number;
}

/** undici's error codes folded into the names the report uses. */
export function transportErrorName(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return (error as Error)?.name ?? 'unknown';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return 'timeout';
  }
  if (code === 'UND_ERR_SOCKET') return 'ECONNRESET';
  return code;
}

export function requestPath(target: URL, path: string): string {
  const base = target.pathname.endsWith('/') ? target.pathname.slice(0, -1) : target.pathname;
  const joined = `${base}${path}`;
  return joined === '' ? '/' : joined;
}

/**
 * Sends exactly `calls` requests over one keep-alive pool with at most `concurrency` in flight, and
 * records every outcome: a response (status + latency) or a transport error. Nothing is retried, so
 * the counts equal what the target received.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const now = options.now ?? Date.now;
  const { request } = options;
  const pool = new Pool(options.target.origin, {
    connections: options.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: request.timeoutMs,
    bodyTimeout: request.timeoutMs,
    connectTimeout: request.timeoutMs,
  });
  const path = requestPath(options.target, request.path);
  const counters = newCounters();
  const histogram = newHistogram();
  const limit = pLimit(options.concurrency);
  let minLatencyUs = Number.POSITIVE_INFINITY;
  let maxLatencyUs = 0;

  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const sendOne = async (): Promise<void> => {
    if (now() >= deadline) {
      counters.notSent++;
      return;
    }
    const token = await options.token();
    const started = process.hrtime.bigint();
    try {
      const response = await pool.request({
        path,
        method: request.method,
        headers: { ...request.headers, authorization: `Bearer ${token}` },
        body: request.body ?? undefined,
      });
      // Read the whole body: latency is time to the last byte, and the socket goes back to the pool.
      for await (const _chunk of response.body) {
      }
      const latencyUs = Math.max(1, Number((process.hrtime.bigint() - started) / 1000n));
      histogram.recordValue(latencyUs);
      if (latencyUs < minLatencyUs) minLatencyUs = latencyUs;
      if (latencyUs > maxLatencyUs) maxLatencyUs = latencyUs;
      countOutcome(counters, { status: response.statusCode }, now());
    } catch (error) {
      countOutcome(counters, { error: transportErrorName(error) }, now());
    }
  };

  const startedAt = now();
  try {
    await Promise.all(Array.from({ length: options.calls }, () => limit(sendOne)));
  } finally {
    await pool.close();
  }
  return {
    counters,
    histogram,
    minLatencyUs: maxLatencyUs === 0 ? 0 : minLatencyUs,
    maxLatencyUs,
    startedAt,
    finishedAt: now(),
  };
}
