import { Pool } from 'undici';
import { assertSendable, type RequestSpec } from '../input';
import { type Histogram, newHistogram } from './histogram';
import { type Counters, countOutcome, newCounters, type Outcome } from './summary';

export interface LoadOptions {
  /** The target's base URL; the request path is appended to its path. */
  readonly target: URL;
  readonly request: RequestSpec;
  readonly calls: number;
  readonly concurrency: number;
  /**
   * Epoch ms after which no new request starts (the worker must finish before Lambda stops it); the
   * calls left are counted as not sent. Requests already in flight complete (or time out).
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

/** What the report calls a request the HTTP client refused to send (bad bytes in a path or header). */
export const INVALID_REQUEST = 'invalid_request';
export const TIMEOUT = 'timeout';

/** undici's error codes folded into the names the report uses. */
export function transportErrorName(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string') return (error as Error)?.name ?? 'unknown';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return TIMEOUT;
  }
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return INVALID_REQUEST;
  if (code === 'UND_ERR_SOCKET') return 'ECONNRESET';
  return code;
}

export function requestPath(target: URL, path: string): string {
  const base = target.pathname.endsWith('/') ? target.pathname.slice(0, -1) : target.pathname;
  const joined = `${base}${path}`;
  return joined === '' ? '/' : joined;
}

/**
 * undici checks its own timeouts about once a second, so a 500 ms limit let 800 ms answers through; our
 * timer decides, and undici's stay as a backstop this much later.
 */
const UNDICI_BACKSTOP_MS = 2_000;

/** Reads a body to its end without keeping it: latency is time to the last byte, and the socket returns to the pool. */
const drain = (body: NodeJS.ReadableStream): Promise<void> =>
  new Promise((resolve, reject) => {
    body.once('end', resolve);
    body.once('error', reject);
    body.resume();
  });

/**
 * Sends exactly `calls` requests over one keep-alive pool with at most `concurrency` in flight, and
 * records every outcome once: a response (status + latency) or a transport failure. Nothing is retried.
 *
 * Memory does not grow with `calls`: `concurrency` loops each send one request at a time and take the
 * next number from a shared counter. Every request settles: by its response, by its error, or by our
 * own timer at `timeoutMs` (counted as `timeout`), even if the client never calls back.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const now = options.now ?? Date.now;
  const { request } = options;
  const pool = new Pool(options.target.origin, {
    connections: options.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: request.timeoutMs + UNDICI_BACKSTOP_MS,
    bodyTimeout: request.timeoutMs + UNDICI_BACKSTOP_MS,
    connectTimeout: request.timeoutMs + UNDICI_BACKSTOP_MS,
  });
  const path = requestPath(options.target, request.path);
  const counters = newCounters();
  const histogram = newHistogram();
  let minLatencyUs = Number.POSITIVE_INFINITY;
  let maxLatencyUs = 0;

  const record = (outcome: Outcome, latencyUs?: number): void => {
    if (latencyUs !== undefined) {
      histogram.recordValue(latencyUs);
      if (latencyUs < minLatencyUs) minLatencyUs = latencyUs;
      if (latencyUs > maxLatencyUs) maxLatencyUs = latencyUs;
    }
    countOutcome(counters, outcome, now());
  };

  /** One request, start to settled outcome; resolves exactly once and never rejects. */
  const sendOne = (token: string): Promise<void> =>
    new Promise((resolve) => {
      const controller = new AbortController();
      let settled = false;
      const settle = (outcome: Outcome, latencyUs?: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        record(outcome, latencyUs);
        resolve();
      };
      const timer = setTimeout(() => {
        settle({ error: TIMEOUT });
        controller.abort();
      }, request.timeoutMs);
      const started = process.hrtime.bigint();
      const failed = (error: unknown) => settle({ error: transportErrorName(error) });
      try {
        pool
          .request({
            path,
            method: request.method,
            headers: { ...request.headers, authorization: `Bearer ${token}` },
            body: request.body ?? undefined,
            signal: controller.signal,
          })
          .then(
            (response) =>
              drain(response.body).then(() => {
                const latencyUs = Math.max(1, Number((process.hrtime.bigint() - started) / 1000n));
                settle({ status: response.statusCode }, latencyUs);
              }, failed),
            failed,
          );
      } catch {
        // A request the client refuses outright is still one attempted request, and frees its slot.
        settle({ error: INVALID_REQUEST });
      }
    });

  // The client refuses some requests in a way that stalls its pool: such a request is never handed over.
  let sendable = true;
  try {
    assertSendable(request);
  } catch {
    sendable = false;
  }

  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  let started = 0;
  const loop = async (): Promise<void> => {
    while (started < options.calls && now() < deadline) {
      started++;
      if (!sendable) {
        record({ error: INVALID_REQUEST });
        continue;
      }
      let token: string;
      try {
        token = await options.token();
      } catch {
        record({ error: 'token_unavailable' });
        continue;
      }
      await sendOne(token);
    }
  };

  const startedAt = now();
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, options.calls)) }, loop));
  } finally {
    counters.notSent += options.calls - started;
    await pool.destroy();
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
