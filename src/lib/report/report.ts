import type { ErrorName } from '../errors';
import type { Thresholds } from '../input';
import {
  decodeHistogram,
  encodeHistogram,
  type Histogram,
  type LatencySummaryMs,
  latencySummary,
  newHistogram,
} from '../load/histogram';
import { isOpen, type LoadModel } from '../load/model';
import { addCounters, type Counters, type CountsOnly, newCounters, type WorkerSummary } from '../load/summary';
import { type EncodedTimeline, mergeTimelines } from '../load/timeline';
import type { StopMarker } from '../stop';
import { count, thresholdValue } from './numbers';

export interface ThresholdFailure {
  /** A configured threshold, or `allRequestsSent`, which every run must meet. */
  readonly threshold: keyof Thresholds | 'allRequestsSent';
  readonly limit: number;
  /** Null when there was nothing to judge (no response for a latency or throughput limit). */
  readonly actual: number | null;
  readonly message: string;
}

/** Why a run failed, as the execution's `Error` (a verdict, not a tool error: the CLI exits 1). */
export type VerdictError = Extract<ErrorName, 'NoResponses' | 'Stopped' | 'WorkersFailed' | 'ThresholdsFailed'>;

export interface Verdict {
  readonly passed: boolean;
  /** The first reason in this order: no response at all, the run was stopped, too many failed workers, thresholds. */
  readonly error: VerdictError | null;
  /** One line: the execution's `Cause` when it fails. */
  readonly cause: string;
}

/** A worker Lambda that did not finish normally, and how much of what it did is still in the report. */
export interface WorkerFailure {
  readonly firstUser: number;
  readonly lastUser: number;
  /** The error's name as Step Functions saw it (`States.Timeout`, `LoginFailed`, `SummaryNotSaved`, …). */
  readonly error: string;
  readonly message: string;
  /** Users of this worker whose requests are in the report (their summary was saved, or its counts came back). */
  readonly usersCounted: number;
}

/** How many failed workers the report lists one by one; the counts cover all of them. */
export const LISTED_WORKER_FAILURES = 100;

export interface Report {
  readonly runId: string;
  readonly target: string;
  readonly users: number;
  /** The workload model each user ran. */
  readonly load: LoadModel;
  /** `load.iterations` for the iterations model (the seed's NumberOfCallsPerUser), else null. */
  readonly callsPerUser: number | null;
  /** Set when the stop switch ended the run early (by hand, or by abortOnFail). */
  readonly stopped: StopMarker | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly requests: RequestCounts & {
    /** Responses with another status. */
    readonly httpFailed: number;
    /** No response: refused, reset, timeout, a request the client could not send. */
    readonly transportFailed: number;
    /** Planned but never attempted (a worker reached Lambda's time limit, or the run was stopped). */
    readonly notSent: number;
    /** Open models: planned, but still waiting for a free slot maxQueueMs after its intended start. */
    readonly dropped: number;
  };
  readonly statusCodes: Record<string, number>;
  readonly errors: Record<string, number>;
  /** Responses per second. */
  readonly throughputRps: number;
  /** Attempts per second (responses and transport failures). */
  readonly attemptedRps: number;
  /**
   * Of responses only; null when there was none. Open models (rate, stages) measure from each request's
   * intended start, so waiting for a slot counts (coordinated omission corrected).
   */
  readonly latencyMs: LatencySummaryMs | null;
  /** Open models only: from the actual send to the last byte (what the target alone took); else null. */
  readonly serviceTimeMs: LatencySummaryMs | null;
  /**
   * Per named request (`default` for a single request): its counts and latency, merged exactly across
   * users. The totals above are their sum, plus the users whose counts came back only in a worker's error.
   */
  readonly byName: Readonly<Record<string, NamedReport>>;
  readonly thresholds: { readonly passed: boolean; readonly failures: readonly ThresholdFailure[] };
  /** The thresholds configured for the run, so that the report shows every limit, passed or not. */
  readonly thresholdLimits: Thresholds;
  readonly verdict: Verdict;
  readonly workers: {
    /** Worker Lambdas planned, and users. */
    readonly expected: number;
    readonly users: number;
    /** Users whose summary (counts, latencies, timeline) is in the report. */
    readonly usersReported: number;
    /** Users whose counts came back in their worker's error, without latencies. */
    readonly usersCountedFromErrors: number;
    /** Users whose requests are unknown: their worker failed before it could say anything. */
    readonly usersUnknown: number;
    readonly failed: number;
    /** The first LISTED_WORKER_FAILURES failed workers, by first user. */
    readonly failures: readonly WorkerFailure[];
    readonly lateStarts: number;
    readonly tokenRefreshes: number;
    readonly tokenRefreshFailures: number;
  };
  /** Cognito authentication per user (before the barrier, retries included); null when none was measured. */
  readonly loginLatencyMs: LatencySummaryMs | null;
  /** Length of each timeline interval: 1 s, doubled for long runs so the summaries stay small. */
  readonly timelineIntervalSeconds: number;
  /** The last outcome, in seconds since the start barrier: the last interval is covered up to here (null: unknown). */
  readonly timelineEndSecond: number | null;
  /** Per interval from the start barrier (from the first request for summaries without a timeline). */
  readonly timeline: readonly TimelinePoint[];
  /**
   * The merged latency HDR histograms (µs, compressed, base64; decodeHistogram reads them), so another
   * run can be compared on any percentile. Null when there was no response.
   */
  readonly histograms: {
    readonly total: string | null;
    readonly byName: Readonly<Record<string, string | null>>;
  };
}

export interface TimelinePoint {
  /** Start of the interval, seconds after the start barrier. */
  readonly second: number;
  /** Requests that settled in the interval (responses and transport failures). */
  readonly requests: number;
  readonly failed: number;
  readonly responses: number;
  /** Latency percentiles of the interval's responses (ms), exact from the merged histograms; null with none. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Users whose load (first request to last outcome) overlapped the interval. */
  readonly activeUsers: number;
}

export interface RequestCounts {
  /** Attempted, each exactly once: ok + failed = responses + transportFailed. */
  readonly total: number;
  /** Got an HTTP status back: responses ≤ what the target received ≤ total. */
  readonly responses: number;
  /** 2xx/3xx responses. */
  readonly ok: number;
  /** httpFailed + transportFailed. */
  readonly failed: number;
}

/** One named request's part of the run. */
export interface NamedReport {
  readonly requests: RequestCounts;
  readonly statusCodes: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly latencyMs: LatencySummaryMs | null;
}

export interface ReportContext {
  readonly runId: string;
  readonly target: string;
  readonly users: number;
  readonly load: LoadModel;
  readonly stopped?: StopMarker | null;
  readonly thresholds: Thresholds;
  /** Where each worker's users start: `workerOf(user)` gives its first and last user. Defaults to one user a worker. */
  readonly workerOf?: (userIndex: number) => { firstUser: number; lastUser: number };
  readonly workers?: number;
}

/** What a failed worker left behind (written by the failure recorder), with the counts of users it could not save. */
export interface WorkerFailureRecord {
  readonly firstUser: number;
  readonly lastUser: number;
  readonly error: string;
  readonly message: string;
  /** userIndex -> counts, for users whose summary could not be written. */
  readonly counts: Record<string, CountsOnly>;
}

const round = (value: number, digits = 2): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Workers later than this after the barrier are counted: they weaken "all users at once". */
const LATE_START_MS = 1_000;

/**
 * Merges what the workers left exactly: counters add, HDR histograms add; nothing is averaged. Every
 * planned user is accounted for: by its summary, by counts carried in its worker's error, or as unknown.
 */
export function mergeSummaries(
  context: ReportContext,
  summaries: readonly WorkerSummary[],
  failureRecords: readonly WorkerFailureRecord[] = [],
): Report {
  const counters = newCounters();
  const histogram = newHistogram();
  const service = newHistogram();
  let serviceMinUs = Number.POSITIVE_INFINITY;
  let serviceMaxUs = 0;
  let startedAt = Number.POSITIVE_INFINITY;
  let finishedAt = Number.NEGATIVE_INFINITY;
  let minUs = Number.POSITIVE_INFINITY;
  let maxUs = 0;
  let lateStarts = 0;
  let tokenRefreshes = 0;
  let tokenRefreshFailures = 0;
  const reported = new Set<number>();
  const login = newHistogram();
  const timelines: EncodedTimeline[] = [];
  const spans: { from: number; to: number }[] = [];
  const named = new Map<string, { counters: Counters; histogram: Histogram; minUs: number; maxUs: number }>();
  for (const summary of summaries) {
    if (reported.has(summary.userIndex)) continue;
    reported.add(summary.userIndex);
    for (const [name, part] of Object.entries(summary.byName ?? {})) {
      let into = named.get(name);
      if (!into) {
        into = { counters: newCounters(), histogram: newHistogram(), minUs: Number.POSITIVE_INFINITY, maxUs: 0 };
        named.set(name, into);
      }
      addCounters(into.counters, part.counters);
      into.histogram.add(decodeHistogram(part.histogram));
      if (part.maxUs > 0) {
        into.minUs = Math.min(into.minUs, part.minUs);
        into.maxUs = Math.max(into.maxUs, part.maxUs);
      }
    }
    addCounters(counters, summary.counters);
    histogram.add(decodeHistogram(summary.histogram));
    if (summary.serviceTime) {
      service.add(decodeHistogram(summary.serviceTime.histogram));
      if (summary.serviceTime.maxUs > 0) {
        serviceMinUs = Math.min(serviceMinUs, summary.serviceTime.minUs);
        serviceMaxUs = Math.max(serviceMaxUs, summary.serviceTime.maxUs);
      }
    }
    if (summary.maxLatencyUs > 0) {
      minUs = Math.min(minUs, summary.minLatencyUs);
      maxUs = Math.max(maxUs, summary.maxLatencyUs);
    }
    if (summary.counters.total > 0) {
      startedAt = Math.min(startedAt, summary.startedAt);
      finishedAt = Math.max(finishedAt, summary.finishedAt);
    }
    if (summary.lateStartMs > LATE_START_MS) lateStarts++;
    if (summary.loginUs !== undefined) login.recordValue(summary.loginUs);
    if (summary.timeline && summary.barrierAt !== undefined) {
      timelines.push(summary.timeline);
      if (summary.counters.total > 0)
        spans.push({ from: summary.startedAt - summary.barrierAt, to: summary.finishedAt - summary.barrierAt });
    }
    tokenRefreshes += summary.tokenRefreshes;
    tokenRefreshFailures += summary.tokenRefreshFailures;
  }

  const accounting = accountForUsers(context, reported, failureRecords);
  for (const counts of accounting.inlineCounts) addCounters(counters, counts);

  if (startedAt > finishedAt) startedAt = finishedAt = Date.now();
  const durationSeconds = Math.max(0, (finishedAt - startedAt) / 1000);
  const { timeline, timelineIntervalSeconds } =
    timelines.length > 0 ? timelineOf(timelines, spans) : secondsTimeline(counters, startedAt);
  const timelineEndSecond = spans.length > 0 ? Math.max(...spans.map((s) => s.to)) / 1000 : null;
  const perSecond = (n: number) => (durationSeconds > 0 ? round(n / durationSeconds) : 0);
  const partial = {
    runId: context.runId,
    target: context.target,
    users: context.users,
    load: context.load,
    callsPerUser: context.load.model === 'iterations' ? context.load.iterations : null,
    stopped: context.stopped ?? null,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationSeconds: round(durationSeconds, 3),
    requests: {
      total: counters.total,
      responses: counters.responses,
      ok: counters.ok,
      failed: counters.failed,
      httpFailed: counters.responses - counters.ok,
      transportFailed: counters.total - counters.responses,
      notSent: counters.notSent,
      dropped: counters.dropped,
    },
    statusCodes: counters.statusCodes,
    // The common transport errors are always listed, so "0 timeouts" is visible, not implied.
    errors: { ECONNREFUSED: 0, ECONNRESET: 0, timeout: 0, ...counters.errors },
    throughputRps: perSecond(counters.responses),
    attemptedRps: perSecond(counters.total),
    latencyMs: latencySummary(histogram, maxUs > 0 ? { minUs, maxUs } : undefined),
    serviceTimeMs: isOpen(context.load)
      ? latencySummary(service, serviceMaxUs > 0 ? { minUs: serviceMinUs, maxUs: serviceMaxUs } : undefined)
      : null,
    byName: Object.fromEntries(
      [...named].map(([name, n]): [string, NamedReport] => [
        name,
        {
          requests: {
            total: n.counters.total,
            responses: n.counters.responses,
            ok: n.counters.ok,
            failed: n.counters.failed,
          },
          statusCodes: n.counters.statusCodes,
          errors: n.counters.errors,
          latencyMs: latencySummary(n.histogram, n.maxUs > 0 ? { minUs: n.minUs, maxUs: n.maxUs } : undefined),
        },
      ]),
    ),
    workers: {
      expected: context.workers ?? context.users,
      users: context.users,
      usersReported: reported.size,
      usersCountedFromErrors: accounting.inlineCounts.length,
      usersUnknown: accounting.usersUnknown,
      failed: accounting.failures.length,
      failures: accounting.failures.slice(0, LISTED_WORKER_FAILURES),
      lateStarts,
      tokenRefreshes,
      tokenRefreshFailures,
    },
    thresholdLimits: context.thresholds,
    loginLatencyMs: latencySummary(login),
    timelineIntervalSeconds,
    timelineEndSecond,
    timeline,
    histograms: {
      total: histogram.totalCount > 0 ? encodeHistogram(histogram) : null,
      byName: Object.fromEntries(
        [...named].map(([name, n]) => [name, n.histogram.totalCount > 0 ? encodeHistogram(n.histogram) : null]),
      ),
    },
  };
  const thresholds = evaluateThresholds(context.thresholds, partial);
  return { ...partial, thresholds, verdict: verdictOf({ ...partial, thresholds }, context.thresholds) };
}

const msOrNull = (histogram: Histogram, percentile: number): number | null =>
  histogram.totalCount === 0 ? null : Math.round(histogram.getValueAtPercentile(percentile)) / 1000;

/** The merged per-interval timeline, with every interval from the first to the last (empty ones as zeros). */
function timelineOf(
  timelines: readonly EncodedTimeline[],
  spans: readonly { from: number; to: number }[],
): { timeline: TimelinePoint[]; timelineIntervalSeconds: number } {
  const { intervalMs, intervals } = mergeTimelines(timelines);
  const indices = [...intervals.keys()];
  const first = Math.min(...indices);
  const last = Math.max(...indices);
  // Active users by a difference array: one pass over the users, one over the intervals.
  const starts = new Map<number, number>();
  const bump = (i: number, by: number) => starts.set(i, (starts.get(i) ?? 0) + by);
  for (const { from, to } of spans) {
    bump(Math.max(0, Math.floor(from / intervalMs)), 1);
    bump(Math.max(0, Math.floor(to / intervalMs)) + 1, -1);
  }
  let active = 0;
  for (let i = 0; i < first; i++) active += starts.get(i) ?? 0;
  const timeline: TimelinePoint[] = [];
  for (let i = first; i <= last; i++) {
    active += starts.get(i) ?? 0;
    const slot = intervals.get(i);
    const h = slot?.histogram;
    timeline.push({
      second: (i * intervalMs) / 1000,
      requests: slot?.n ?? 0,
      failed: slot?.failed ?? 0,
      responses: h?.totalCount ?? 0,
      p50: h ? msOrNull(h, 50) : null,
      p95: h ? msOrNull(h, 95) : null,
      p99: h ? msOrNull(h, 99) : null,
      activeUsers: active,
    });
  }
  return { timeline, timelineIntervalSeconds: intervalMs / 1000 };
}

/** Summaries written before the interval timeline: counts per wall-clock second from the first request. */
function secondsTimeline(
  counters: Counters,
  startedAt: number,
): { timeline: TimelinePoint[]; timelineIntervalSeconds: number } {
  const firstSecond = Math.floor(startedAt / 1000);
  const timeline = Object.entries(counters.timeline)
    .map(([second, [requests, failed]]) => ({
      second: Number(second) - firstSecond,
      requests,
      failed,
      responses: 0,
      p50: null,
      p95: null,
      p99: null,
      activeUsers: 0,
    }))
    .sort((a, b) => a.second - b.second);
  return { timeline, timelineIntervalSeconds: 1 };
}

/**
 * Which users are in the report and which workers failed. A worker with a failure record failed; so did
 * any worker with a user that left neither a summary nor counts (it crashed where nothing could catch it).
 */
function accountForUsers(
  context: ReportContext,
  reported: ReadonlySet<number>,
  records: readonly WorkerFailureRecord[],
): { inlineCounts: CountsOnly[]; usersUnknown: number; failures: WorkerFailure[] } {
  const workerOf = context.workerOf ?? ((user: number) => ({ firstUser: user, lastUser: user }));
  const inline = new Map<number, CountsOnly>();
  const failures = new Map<number, WorkerFailure>();
  for (const record of records) {
    for (const [user, counts] of Object.entries(record.counts)) {
      if (!reported.has(Number(user))) inline.set(Number(user), counts);
    }
    failures.set(record.firstUser, {
      firstUser: record.firstUser,
      lastUser: record.lastUser,
      error: record.error,
      message: record.message,
      usersCounted: 0,
    });
  }
  let usersUnknown = 0;
  for (let user = 0; user < context.users; user++) {
    if (reported.has(user) || inline.has(user)) continue;
    usersUnknown++;
    const worker = workerOf(user);
    if (!failures.has(worker.firstUser)) {
      failures.set(worker.firstUser, {
        ...worker,
        error: 'NoSummary',
        message: 'the worker left no summary and no error (stopped before it could report)',
        usersCounted: 0,
      });
    }
  }
  for (const [firstUser, failure] of failures) {
    let usersCounted = 0;
    for (let user = firstUser; user <= failure.lastUser; user++)
      if (reported.has(user) || inline.has(user)) usersCounted++;
    failures.set(firstUser, { ...failure, usersCounted });
  }
  return {
    inlineCounts: [...inline.values()],
    usersUnknown,
    failures: [...failures.values()].sort((a, b) => a.firstUser - b.firstUser),
  };
}

const NO_RESPONSE = 'no response to judge it by';

export function evaluateThresholds(
  thresholds: Thresholds,
  report: Pick<Report, 'requests' | 'latencyMs' | 'throughputRps'> & { readonly stopped?: StopMarker | null },
): Report['thresholds'] {
  const failures: ThresholdFailure[] = [];
  if (report.requests.notSent > 0) {
    const why = report.stopped
      ? `the run was stopped (${report.stopped.reason})`
      : "workers reached Lambda's time limit (fewer calls per user, or more concurrency)";
    failures.push({
      threshold: 'allRequestsSent',
      limit: 0,
      actual: report.requests.notSent,
      message: `${count(report.requests.notSent)} requests not sent: ${why}`,
    });
  }
  const latency = (threshold: 'p95Ms' | 'p99Ms', limit: number | undefined, label: string) => {
    if (limit === undefined) return;
    const actual = report.latencyMs?.[label as 'p95' | 'p99'] ?? null;
    if (actual === null)
      failures.push({ threshold, limit, actual, message: `${label} cannot be judged: ${NO_RESPONSE}` });
    else if (actual > limit)
      failures.push({
        threshold,
        limit,
        actual,
        message: `${label} ${thresholdValue(threshold, actual, 'observed')} > ${thresholdValue(threshold, limit, 'limit')}`,
      });
  };
  latency('p95Ms', thresholds.p95Ms, 'p95');
  latency('p99Ms', thresholds.p99Ms, 'p99');
  if (thresholds.maxErrorRate !== undefined) {
    // Transport failures count: a request that got no answer is an error.
    const { total, failed } = report.requests;
    const rate = total > 0 ? round(failed / total, 4) : null;
    const limit = thresholds.maxErrorRate;
    if (rate === null)
      failures.push({
        threshold: 'maxErrorRate',
        limit,
        actual: null,
        message: 'error rate cannot be judged: no request was attempted',
      });
    else if (rate > limit)
      failures.push({
        threshold: 'maxErrorRate',
        limit,
        actual: rate,
        message: `error rate ${thresholdValue('maxErrorRate', rate, 'observed')} > ${thresholdValue('maxErrorRate', limit, 'limit')}`,
      });
  }
  if (thresholds.minThroughputRps !== undefined && report.throughputRps < thresholds.minThroughputRps) {
    failures.push({
      threshold: 'minThroughputRps',
      limit: thresholds.minThroughputRps,
      actual: report.throughputRps,
      message: `throughput ${thresholdValue('minThroughputRps', report.throughputRps, 'observed')} < ${thresholdValue('minThroughputRps', thresholds.minThroughputRps, 'limit')}`,
    });
  }
  return { passed: failures.length === 0, failures };
}

const describeErrors = (errors: Record<string, number>): string =>
  Object.entries(errors)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${count(n)}`)
    .join(', ') || 'none recorded';

/** The run's verdict: a run without a single response never passes, thresholds or not. */
export function verdictOf(
  report: Pick<Report, 'requests' | 'errors' | 'thresholds' | 'workers' | 'stopped'>,
  thresholds: Thresholds,
): Verdict {
  const { requests, workers } = report;
  if (requests.responses === 0) {
    const cause =
      requests.total === 0
        ? 'no request was sent'
        : `no request got a response: ${count(requests.total)} attempted, transport errors: ${describeErrors(report.errors)}`;
    return { passed: false, error: 'NoResponses', cause };
  }
  // A stopped run did not do what was planned: it cannot pass, whatever its numbers.
  if (report.stopped) {
    return {
      passed: false,
      error: 'Stopped',
      cause: `stopped at ${report.stopped.stoppedAt}: ${report.stopped.reason}; ${count(requests.total)} requests sent, ${count(requests.notSent)} not sent`,
    };
  }
  const allowed = thresholds.maxFailedWorkers ?? 0;
  if (workers.failed > allowed) {
    const first = workers.failures[0];
    const example = first
      ? `; first: users ${first.firstUser}..${first.lastUser}: ${first.error}: ${first.message}`
      : '';
    return {
      passed: false,
      error: 'WorkersFailed',
      cause: `${count(workers.failed)} worker(s) failed (allowed ${count(allowed)}), requests of ${count(workers.usersUnknown)} user(s) unknown${example}`,
    };
  }
  if (!report.thresholds.passed) {
    return {
      passed: false,
      error: 'ThresholdsFailed',
      cause: `thresholds failed: ${report.thresholds.failures.map((f) => f.message).join('; ')}`,
    };
  }
  return {
    passed: true,
    error: null,
    cause: `passed: ${count(requests.total)} requests, ${count(requests.failed)} failed`,
  };
}

/** What the execution outputs. */
export type Headline = Omit<Report, 'timeline' | 'histograms'>;

/** The execution output: the report without its timeline, histograms and worker list (state payloads stay small). */
export function headline(report: Report): Headline {
  const { timeline: _timeline, histograms: _histograms, ...rest } = report;
  return { ...rest, workers: { ...rest.workers, failures: rest.workers.failures.slice(0, 5) } };
}
