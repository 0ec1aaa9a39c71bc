import { Pool } from 'undici';
import { assertSendable, type RequestSpec } from '../input';
import { type Histogram, newHistogram } from './histogram';
import { inFlightOf, type LoadModel, type OpenModel, scheduleOf } from './model';
import { type Counters, countOutcome, newCounters, type Outcome } from './summary';

export interface LoadOptions {
  /** The target's base URL; the request path is appended to its path. */
  readonly target: URL;
  readonly request: RequestSpec;
  readonly load: LoadModel;
  /**
   * Epoch ms after which no new request starts (the worker must finish before Lambda stops it); the
   * planned requests left are counted as not sent. Requests already in flight complete (or time out).
   */
  readonly deadline?: number;
  /** Polled before each start with the counts so far: true stops the load; what was not started is not sent. */
  readonly shouldStop?: (counters: Counters) => boolean;
  /** Returns a valid access token, refreshing it when it is close to expiry. */
  readonly token: () => Promise<string>;
  readonly now?: () => number;
}

/** Latencies recorded in one histogram, with the exact extremes (an encoded histogram keeps only buckets). */
export interface Latencies {
  readonly histogram: Histogram;
  minUs: number;
  maxUs: number;
}

export interface LoadResult {
  readonly counters: Counters;
  /** Response latencies; for open models measured from each request's intended start (coordinated omission corrected). */
  readonly latency: Latencies;
  /** Open models only: from the actual send (the uncorrected service time). */
  readonly serviceTime: Latencies | undefined;
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

const newLatencies = (): Latencies => ({ histogram: newHistogram(), minUs: Number.POSITIVE_INFINITY, maxUs: 0 });

function recordLatency(into: Latencies, us: number): void {
  into.histogram.recordValue(us);
  if (us < into.minUs) into.minUs = us;
  if (us > into.maxUs) into.maxUs = us;
}

/** Monotonic milliseconds with sub-millisecond precision, for latencies and schedules. */
const mono = (): number => performance.now();

/**
 * Runs one user's load over one keep-alive pool and records every outcome exactly once: a response
 * (status + latency) or a transport failure. Nothing is retried.
 *
 * Memory does not grow with the number of requests: closed models run `concurrency` loops that each
 * send one request at a time; open models keep only the requests waiting for a slot (at most
 * rate × maxQueueMs). Every request settles: by its response, by its error, or by our own timer at
 * `timeoutMs` (counted as `timeout`), even if the client never calls back.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const now = options.now ?? Date.now;
  const { request, load } = options;
  const pool = new Pool(options.target.origin, {
    connections: inFlightOf(load),
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: request.timeoutMs + UNDICI_BACKSTOP_MS,
    bodyTimeout: request.timeoutMs + UNDICI_BACKSTOP_MS,
    connectTimeout: request.timeoutMs + UNDICI_BACKSTOP_MS,
  });
  const path = requestPath(options.target, request.path);
  const counters = newCounters();
  const latency = newLatencies();
  const serviceTime = load.model === 'rate' || load.model === 'stages' ? newLatencies() : undefined;
  // The client refuses some requests in a way that stalls its pool: such a request is never handed over.
  let sendable = true;
  try {
    assertSendable(request);
  } catch {
    sendable = false;
  }

  const record = (outcome: Outcome, intendedAt: number, sentAt: number): void => {
    if ('status' in outcome) {
      const end = mono();
      recordLatency(latency, Math.max(1, Math.round((end - intendedAt) * 1000)));
      if (serviceTime) recordLatency(serviceTime, Math.max(1, Math.round((end - sentAt) * 1000)));
    }
    countOutcome(counters, outcome, now());
  };

  /**
   * One request, from its token to a settled outcome; resolves exactly once and never rejects.
   * `intendedAt` is when the schedule wanted it sent (open models), else when it was sent.
   */
  const sendOne = async (intendedAt?: number): Promise<void> => {
    let token: string;
    try {
      token = await options.token();
    } catch {
      countOutcome(counters, { error: 'token_unavailable' }, now());
      return;
    }
    const sentAt = mono();
    if (!sendable) {
      countOutcome(counters, { error: INVALID_REQUEST }, now());
      return;
    }
    return new Promise((resolve) => {
      const controller = new AbortController();
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        record(outcome, intendedAt ?? sentAt, sentAt);
        resolve();
      };
      const timer = setTimeout(() => {
        settle({ error: TIMEOUT });
        controller.abort();
      }, request.timeoutMs);
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
          .then((response) => drain(response.body).then(() => settle({ status: response.statusCode }), failed), failed);
      } catch {
        // A request the client refuses outright is still one attempted request, and frees its slot.
        settle({ error: INVALID_REQUEST });
      }
    });
  };

  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const halted = () => now() >= deadline || options.shouldStop?.(counters) === true;
  const startedAt = now();
  try {
    if (load.model === 'rate' || load.model === 'stages') await runOpen(load, sendOne, halted, counters);
    else await runClosed(load, sendOne, halted, counters);
  } finally {
    await pool.destroy();
  }
  const finish = (l: Latencies): Latencies => (l.maxUs === 0 ? { ...l, minUs: 0 } : l);
  return {
    counters,
    latency: finish(latency),
    serviceTime: serviceTime && finish(serviceTime),
    startedAt,
    finishedAt: now(),
  };
}

/** `concurrency` loops, each starting its next request when the last one settles. */
async function runClosed(
  load: Extract<LoadModel, { model: 'iterations' | 'duration' }>,
  sendOne: () => Promise<void>,
  halted: () => boolean,
  counters: Counters,
): Promise<void> {
  const endsAt = load.model === 'duration' ? mono() + load.durationSeconds * 1000 : Number.POSITIVE_INFINITY;
  const limit = load.model === 'iterations' ? load.iterations : Number.POSITIVE_INFINITY;
  let started = 0;
  let stopped = false;
  const loop = async (): Promise<void> => {
    while (started < limit && mono() < endsAt) {
      if (halted()) {
        stopped = true;
        return;
      }
      started++;
      await sendOne();
    }
  };
  const loops = Math.max(1, Math.min(load.concurrency, limit));
  await Promise.all(Array.from({ length: loops }, loop));
  // A duration run has no planned count: what it did not start after a stop is not a number of requests.
  if (load.model === 'iterations' && stopped) counters.notSent += limit - started;
}

/**
 * Starts request i at its intended time t_i, or as soon as one of `maxInFlight` slots frees; one still
 * waiting `maxQueueMs` after t_i is dropped (counted). Latency counts from t_i (DESIGN §4).
 */
async function runOpen(
  load: OpenModel,
  sendOne: (intendedAt: number) => Promise<void>,
  halted: () => boolean,
  counters: Counters,
): Promise<void> {
  const schedule = scheduleOf(load);
  const origin = mono();
  const waiting: number[] = [];
  let next = 0;
  let inFlight = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const dropExpired = (at: number) => {
    while (waiting.length > 0 && at - (waiting[0] ?? at) > load.maxQueueMs) {
      waiting.shift();
      counters.dropped++;
    }
  };
  const pump = () => {
    dropExpired(mono());
    while (inFlight < load.maxInFlight && waiting.length > 0) {
      const intendedAt = waiting.shift() ?? mono();
      inFlight++;
      void sendOne(intendedAt).then(() => {
        inFlight--;
        pump();
        wake?.();
      });
    }
  };

  for (;;) {
    const at = mono();
    // Everything due by now joins the queue in order; a stop or the deadline ends the schedule.
    for (let t = schedule(next); !stopped && t !== undefined && origin + t <= at; t = schedule(next)) {
      if (halted()) {
        stopped = true;
        break;
      }
      waiting.push(origin + t);
      next++;
    }
    pump();
    const nextT = stopped ? undefined : schedule(next);
    if (nextT === undefined && waiting.length === 0 && inFlight === 0) break;
    if (stopped && waiting.length > 0) {
      counters.notSent += waiting.length;
      waiting.length = 0;
      if (inFlight === 0) break;
    }
    // Sleep until the next intended start, the oldest waiting request's expiry, or a slot freeing.
    const wakeAt = Math.min(
      nextT === undefined ? Number.POSITIVE_INFINITY : origin + nextT,
      waiting.length > 0 ? (waiting[0] ?? at) + load.maxQueueMs + 1 : Number.POSITIVE_INFINITY,
    );
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (Number.isFinite(wakeAt)) timer = setTimeout(resolve, Math.max(0, wakeAt - mono()));
    });
    clearTimeout(timer);
    wake = undefined;
  }
  if (stopped) {
    // The rest of the schedule was planned and never started.
    for (let t = schedule(next); t !== undefined; t = schedule(++next)) counters.notSent++;
  }
}
