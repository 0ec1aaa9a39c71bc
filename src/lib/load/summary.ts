/** Counters a worker keeps while it sends requests, and that the aggregate adds up. */
export interface Counters {
  /** Requests attempted, each exactly once: ok + failed. */
  total: number;
  /** Requests that got an HTTP status back (any status): what the target certainly answered. */
  responses: number;
  /** 2xx and 3xx responses. */
  ok: number;
  /** Everything else: responses with another status, and transport failures (total - responses). */
  failed: number;
  /** HTTP status code -> count, for every response received. */
  statusCodes: Record<string, number>;
  /** Transport failure (ECONNREFUSED, ECONNRESET, timeout, invalid_request, …) -> count: no response. */
  errors: Record<string, number>;
  /** Planned requests never attempted: the worker reached its time limit (Lambda's 15 minutes), or the run was stopped. */
  notSent: number;
  /** Open models: requests still waiting for a free slot maxQueueMs after their intended start, never sent. */
  dropped: number;
  /** Epoch second -> [completed, failed]: summaries before the interval timeline (WorkerSummary.timeline); empty since. */
  timeline: Record<string, [number, number]>;
}

export const newCounters = (): Counters => ({
  total: 0,
  responses: 0,
  ok: 0,
  failed: 0,
  statusCodes: {},
  errors: {},
  notSent: 0,
  dropped: 0,
  timeline: {},
});

/** 2xx and 3xx are successes; everything else, with transport errors, is a failure (DESIGN §4). */
export const isOkStatus = (status: number): boolean => status >= 200 && status < 400;

const bump = (map: Record<string, number>, key: string, by = 1): void => {
  map[key] = (map[key] ?? 0) + by;
};

/** One attempted request's outcome: a status when a response came back, else the transport error's name. */
export type Outcome = { readonly status: number } | { readonly error: string };

export function countOutcome(counters: Counters, outcome: Outcome, at: number): void {
  const ok = tally(counters, outcome);
  const second = String(Math.floor(at / 1000));
  const slot = counters.timeline[second] ?? [0, 0];
  slot[0]++;
  if (!ok) slot[1]++;
  counters.timeline[second] = slot;
}

/** Counts one outcome without the timeline (per-name counts keep none); true when it is a success. */
export function tally(counts: CountsOnly, outcome: Outcome): boolean {
  const ok = 'status' in outcome && isOkStatus(outcome.status);
  counts.total++;
  if (ok) counts.ok++;
  else counts.failed++;
  if ('status' in outcome) {
    counts.responses++;
    bump(counts.statusCodes, String(outcome.status));
  } else bump(counts.errors, outcome.error);
  return ok;
}

/** The counters without the timeline: small enough to travel in an error's cause when S3 cannot take them. */
export type CountsOnly = Omit<Counters, 'timeline'>;

export const countsOnly = ({ timeline: _timeline, ...counts }: Counters): CountsOnly => counts;

export function addCounters(into: Counters, from: CountsOnly & { timeline?: Counters['timeline'] }): void {
  into.total += from.total;
  into.responses += from.responses ?? 0;
  into.ok += from.ok;
  into.failed += from.failed;
  into.notSent += from.notSent ?? 0;
  into.dropped += from.dropped ?? 0;
  for (const [code, n] of Object.entries(from.statusCodes)) bump(into.statusCodes, code, n);
  for (const [name, n] of Object.entries(from.errors)) bump(into.errors, name, n);
  for (const [second, [n, failed]] of Object.entries(from.timeline ?? {})) {
    const slot = into.timeline[second] ?? [0, 0];
    slot[0] += n;
    slot[1] += failed;
    into.timeline[second] = slot;
  }
}

import type { EncodedTimeline } from './timeline';

export interface EncodedLatencies {
  /** HDR histogram in µs, compressed and base64-encoded. */
  readonly histogram: string;
  readonly minUs: number;
  readonly maxUs: number;
}

export interface NamedSummary extends EncodedLatencies {
  readonly counters: CountsOnly;
}

/** What each worker writes to the results bucket, one per user. */
export interface WorkerSummary {
  readonly version: 1;
  readonly runId: string;
  readonly userIndex: number;
  readonly username: string;
  readonly counters: Counters;
  /** HDR histogram of response latencies in µs, compressed and base64-encoded. */
  readonly histogram: string;
  /** Exact fastest and slowest response in µs (0 when there was none). */
  readonly minLatencyUs: number;
  readonly maxLatencyUs: number;
  /** Open models: the service time (from the actual send), apart from the corrected latency above. */
  readonly serviceTime?: EncodedLatencies;
  /**
   * Per named request (`default` for a single request): its counts and latencies. notSent and dropped
   * are counted for the whole user only (a mix does not know which request a skipped iteration would have sent).
   */
  readonly byName?: Readonly<Record<string, NamedSummary>>;
  /** Per interval since the start barrier: outcomes and the latency histogram (absent in older summaries). */
  readonly timeline?: EncodedTimeline;
  /** Epoch ms of the start barrier the timeline counts from. */
  readonly barrierAt?: number;
  /** Cognito authentication of this user before the barrier, in µs (absent when not measured). */
  readonly loginUs?: number;
  /** Epoch ms of the first request sent and the last outcome. */
  readonly startedAt: number;
  readonly finishedAt: number;
  /** How late after the start barrier this worker began (ms; 0 when on time). */
  readonly lateStartMs: number;
  readonly tokenRefreshes: number;
  readonly tokenRefreshFailures: number;
}
