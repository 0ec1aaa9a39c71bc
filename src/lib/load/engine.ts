import { Pool } from 'undici';
import { type Histogram, newCompactHistogram, newHistogram } from './histogram';
import { durationOf, inFlightOf, type LoadModel, type OpenModel, scheduleOf } from './model';
import type { CompiledScenario } from './scenario';
import { type Counters, type CountsOnly, countsOnly, newCounters, type Outcome, tally } from './summary';
import { type EncodedTimeline, TimelineRecorder } from './timeline';

export interface LoadOptions {
  /** The target's base URL; the request path is appended to its path. */
  readonly target: URL;
  /** The user's compiled requests: one iteration sends one of them (a mix) or all in order (a flow). */
  readonly scenario: CompiledScenario;
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
  /** Epoch ms the timeline's intervals count from: the start barrier (default: when the load starts). */
  readonly timelineOrigin?: number;
  /** Handed the live counters and latencies once, before the first request (for live metrics). */
  readonly onStart?: (live: { readonly counters: Counters; readonly latency: Latencies }) => void;
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
  /** Per request name: its outcomes and latencies (the total's own objects when there is one request). */
  readonly byName: Readonly<Record<string, NamedResult>>;
  /** Outcomes and latencies per interval since the timeline's origin. */
  readonly timeline: EncodedTimeline;
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface NamedResult {
  readonly counters: CountsOnly;
  readonly latency: Latencies;
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

const newLatencies = (histogram: Histogram = newHistogram()): Latencies => ({
  histogram,
  minUs: Number.POSITIVE_INFINITY,
  maxUs: 0,
});

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
  const { scenario, load } = options;
  const backstop = scenario.maxTimeoutMs + UNDICI_BACKSTOP_MS;
  const pool = new Pool(options.target.origin, {
    connections: inFlightOf(load),
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: backstop,
    bodyTimeout: backstop,
    connectTimeout: backstop,
  });
  const counters = newCounters();
  const latency = newLatencies();
  options.onStart?.({ counters, latency });
  const serviceTime = load.model === 'rate' || load.model === 'stages' ? newLatencies() : undefined;
  // One request: its name's figures are the totals themselves, so nothing is counted twice.
  const single = scenario.requests.length === 1;
  const named: NamedResult[] = scenario.requests.map(() =>
    single
      ? { counters, latency }
      : { counters: countsOnly(newCounters()), latency: newLatencies(newCompactHistogram()) },
  );
  const origin = options.timelineOrigin ?? now();
  const plannedSeconds = durationOf(load);
  const timeline = new TimelineRecorder(
    origin,
    plannedSeconds === undefined ? undefined : now() - origin + plannedSeconds * 1000,
  );
  const basePath = requestPath(options.target, '');
  const pathOf = (path: string) => (path === '' ? basePath : basePath === '/' ? path : `${basePath}${path}`);

  const record = (stats: NamedResult, outcome: Outcome, intendedAt: number, sentAt: number): void => {
    let us: number | undefined;
    if ('status' in outcome) {
      const end = mono();
      us = Math.max(1, Math.round((end - intendedAt) * 1000));
      recordLatency(latency, us);
      if (stats.latency !== latency) recordLatency(stats.latency, us);
      if (serviceTime) recordLatency(serviceTime, Math.max(1, Math.round((end - sentAt) * 1000)));
    }
    // The interval timeline replaces the epoch-second one: counters.timeline stays empty in new summaries.
    timeline.record(now(), tally(counters, outcome), us);
    if (stats.counters !== counters) tally(stats.counters, outcome);
  };

  /**
   * Request `index` of the scenario, from its token to a settled outcome; resolves exactly once and
   * never rejects. `intendedAt` is when the schedule wanted it sent (open models), else when it was sent.
   */
  const sendOne = async (index: number, iteration: number, intendedAt?: number): Promise<void> => {
    const request = scenario.requests[index];
    const stats = named[index];
    if (!request || !stats) return;
    let token: string;
    try {
      token = await options.token();
    } catch {
      record(stats, { error: 'token_unavailable' }, 0, 0);
      return;
    }
    const sentAt = mono();
    // The client refuses some requests in a way that stalls its pool: such a request is never handed over.
    if (!request.sendable) {
      record(stats, { error: INVALID_REQUEST }, sentAt, sentAt);
      return;
    }
    const prepared = request.prepare(iteration);
    return new Promise((resolve) => {
      const controller = new AbortController();
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        record(stats, outcome, intendedAt ?? sentAt, sentAt);
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
            path: pathOf(prepared.path),
            method: request.method,
            headers: { ...prepared.headers, authorization: `Bearer ${token}` },
            body: prepared.body ?? undefined,
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
  const steps = scenario.requests.length;
  let iterations = 0;
  /**
   * One iteration: one request picked by weight, or every step in order. A flow's first step is timed
   * from the intended start, the next ones from their own send; a stop between steps leaves the rest unsent.
   */
  const runIteration = async (intendedAt?: number): Promise<void> => {
    const iteration = iterations++;
    if (scenario.mode === 'mix') return sendOne(scenario.pick(), iteration, intendedAt);
    for (let step = 0; step < steps; step++) {
      if (step > 0 && halted()) {
        counters.notSent += steps - step;
        return;
      }
      await sendOne(step, iteration, step === 0 ? intendedAt : undefined);
    }
  };
  const perIteration = scenario.mode === 'flow' ? steps : 1;
  const startedAt = now();
  try {
    if (load.model === 'rate' || load.model === 'stages')
      await runOpen(load, runIteration, halted, counters, perIteration);
    else await runClosed(load, runIteration, halted, counters, perIteration);
  } finally {
    await pool.destroy();
  }
  const finish = (l: Latencies): Latencies => (l.maxUs === 0 ? { ...l, minUs: 0 } : l);
  const byName: Record<string, NamedResult> = {};
  scenario.requests.forEach((request, i) => {
    const stats = named[i];
    if (stats) byName[request.name] = { counters: stats.counters, latency: finish(stats.latency) };
  });
  return {
    counters,
    latency: finish(latency),
    serviceTime: serviceTime && finish(serviceTime),
    byName,
    timeline: timeline.encode(),
    startedAt,
    finishedAt: now(),
  };
}

/** `concurrency` loops, each starting its next iteration when the last one settles. */
async function runClosed(
  load: Extract<LoadModel, { model: 'iterations' | 'duration' }>,
  runIteration: () => Promise<void>,
  halted: () => boolean,
  counters: Counters,
  perIteration: number,
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
      await runIteration();
    }
  };
  const loops = Math.max(1, Math.min(load.concurrency, limit));
  await Promise.all(Array.from({ length: loops }, loop));
  // A duration run has no planned count: what it did not start after a stop is not a number of requests.
  if (load.model === 'iterations' && stopped) counters.notSent += (limit - started) * perIteration;
}

/**
 * Starts iteration i at its intended time t_i, or as soon as one of `maxInFlight` slots frees; one still
 * waiting `maxQueueMs` after t_i is dropped (counted, with all its requests). Latency counts from t_i (DESIGN §4).
 */
async function runOpen(
  load: OpenModel,
  runIteration: (intendedAt: number) => Promise<void>,
  halted: () => boolean,
  counters: Counters,
  perIteration: number,
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
      counters.dropped += perIteration;
    }
  };
  const pump = () => {
    dropExpired(mono());
    while (inFlight < load.maxInFlight && waiting.length > 0) {
      const intendedAt = waiting.shift() ?? mono();
      inFlight++;
      void runIteration(intendedAt).then(() => {
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
      counters.notSent += waiting.length * perIteration;
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
    for (let t = schedule(next); t !== undefined; t = schedule(++next)) counters.notSent += perIteration;
  }
}
