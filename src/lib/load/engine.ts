import { channel } from 'node:diagnostics_channel';
import type { SecureContextOptions } from 'node:tls';
import { type Histogram, newCompactHistogram, newHistogram } from './histogram';
import { type Connection, ConnectionPool, endpointOf, requestBytes } from './http/connection';
import { durationOf, type LoadModel, type OpenModel, scheduleOf } from './model';
import type { CompiledRequest, CompiledScenario } from './scenario';
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
  /** Returns a valid access token, refreshing it when it is close to expiry (a string when no refresh is due). */
  readonly token: () => string | Promise<string>;
  /** Extra CAs to trust for an https target (a self-signed test server); the system's otherwise. */
  readonly ca?: SecureContextOptions['ca'];
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

export function requestPath(target: URL, path: string): string {
  const base = target.pathname.endsWith('/') ? target.pathname.slice(0, -1) : target.pathname;
  const joined = `${base}${path}`;
  return joined === '' ? '/' : joined;
}

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

/**
 * Every outcome, as it is recorded, for whoever watches (the local CLI's live progress): an
 * {@link OutcomeMessage}. Nothing is built or sent when nobody subscribes.
 */
export const OUTCOMES_CHANNEL = 'apiloadtest:outcome';
const outcomes = channel(OUTCOMES_CHANNEL);

export interface OutcomeMessage {
  /** The target's origin, so a watcher can tell runs apart. */
  readonly origin: string;
  /** True when the target answered (any status). */
  readonly response: boolean;
}

/** Monotonic milliseconds with sub-millisecond precision, for latencies and schedules. */
const mono = (): number => performance.now();

/** A request on its connection: what its settlement records, and the promise it resolves. */
interface InFlight {
  readonly stats: NamedResult;
  readonly intendedAt: number;
  readonly sentAt: number;
  readonly timeoutMs: number;
  readonly resolve: () => void;
}

/** How often deadlines are checked: a twentieth of the shortest timeout (a timeout ends ≤ 5% late), 2–100 ms. */
const timeoutTickMs = (scenario: CompiledScenario): number =>
  Math.min(100, Math.max(2, Math.floor(Math.min(...scenario.requests.map((r) => r.timeoutMs)) / 20)));

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
  const targetOrigin = options.target.origin;
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
    if (outcomes.hasSubscribers)
      outcomes.publish({ origin: targetOrigin, response: us !== undefined } satisfies OutcomeMessage);
  };

  /** A request's end on its connection: the outcome is recorded, the connection freed, the sender resumed. */
  const settle = (connection: Connection<InFlight>, status: number, error: string | undefined): void => {
    const request = connection.context;
    connection.context = undefined;
    pool.release(connection);
    if (!request) return;
    // The deadline sweep runs every few ms: an answer that came after the limit, before the sweep, is still late.
    const late = error === undefined && mono() - request.sentAt > request.timeoutMs;
    record(
      request.stats,
      error === undefined && !late ? { status } : { error: error ?? TIMEOUT },
      request.intendedAt,
      request.sentAt,
    );
    request.resolve();
  };
  const pool = new ConnectionPool<InFlight>(
    endpointOf(options.target, options.ca),
    settle,
    timeoutTickMs(scenario),
    mono,
    TIMEOUT,
  );
  // Each request's bytes, rebuilt only when its templated parts or the token change.
  const host = options.target.host;
  const built = scenario.requests.map(() => ({
    prepared: undefined as unknown,
    token: '',
    bytes: Buffer.alloc(0) as Buffer,
  }));
  const bytesOf = (index: number, request: CompiledRequest, iteration: number, token: string): Buffer => {
    const prepared = request.prepare(iteration);
    const cache = built[index] as (typeof built)[number];
    if (cache.prepared !== prepared || cache.token !== token) {
      cache.bytes = requestBytes(request.method, pathOf(prepared.path), host, prepared.headers, token, prepared.body);
      cache.prepared = prepared;
      cache.token = token;
    }
    return cache.bytes;
  };

  /**
   * Request `index` of the scenario, from its token to a settled outcome; resolves exactly once and
   * never rejects. `intendedAt` is when the schedule wanted it sent (open models), else when it was sent.
   */
  const send = (index: number, iteration: number, intendedAt: number | undefined, token: string): Promise<void> => {
    const request = scenario.requests[index] as CompiledRequest;
    const stats = named[index] as NamedResult;
    const sentAt = mono();
    // Never handed to the client: the input's checks (assertSendable) refused these bytes.
    if (!request.sendable) {
      record(stats, { error: INVALID_REQUEST }, sentAt, sentAt);
      return Promise.resolve();
    }
    const bytes = bytesOf(index, request, iteration, token);
    return new Promise((resolve) => {
      const connection = pool.acquire();
      connection.context = { stats, intendedAt: intendedAt ?? sentAt, sentAt, timeoutMs: request.timeoutMs, resolve };
      connection.send(bytes, request.method === 'HEAD', sentAt + request.timeoutMs);
    });
  };
  const sendOne = (index: number, iteration: number, intendedAt?: number): Promise<void> => {
    let token: string | Promise<string>;
    try {
      token = options.token();
    } catch {
      token = Promise.reject();
    }
    if (typeof token === 'string') return send(index, iteration, intendedAt, token);
    return token.then(
      (fresh) => send(index, iteration, intendedAt, fresh),
      () => record(named[index] as NamedResult, { error: 'token_unavailable' }, 0, 0),
    );
  };

  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const halted = () => now() >= deadline || options.shouldStop?.(counters) === true;
  const steps = scenario.requests.length;
  let iterations = 0;
  /**
   * One iteration: one request picked by weight, or every step in order. A flow's first step is timed
   * from the intended start, the next ones from their own send; a stop between steps leaves the rest unsent.
   */
  const runFlow = async (iteration: number, intendedAt?: number): Promise<void> => {
    for (let step = 0; step < steps; step++) {
      if (step > 0 && halted()) {
        counters.notSent += steps - step;
        return;
      }
      await sendOne(step, iteration, step === 0 ? intendedAt : undefined);
    }
  };
  // Not async: a mix hands back its request's own promise, with no wrapper promise per request.
  const runIteration = (intendedAt?: number): Promise<void> =>
    scenario.mode === 'mix' ? sendOne(scenario.pick(), iterations++, intendedAt) : runFlow(iterations++, intendedAt);
  const perIteration = scenario.mode === 'flow' ? steps : 1;
  const startedAt = now();
  try {
    if (load.model === 'rate' || load.model === 'stages')
      await runOpen(load, runIteration, halted, counters, perIteration);
    else await runClosed(load, runIteration, halted, counters, perIteration);
  } finally {
    pool.close();
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
