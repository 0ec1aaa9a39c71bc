import type { Thresholds } from '../input';
import { decodeHistogram, type LatencySummaryMs, latencySummary, newHistogram } from '../load/histogram';
import { addCounters, newCounters, type WorkerSummary } from '../load/summary';

export interface ThresholdFailure {
  /** A configured threshold, or `allRequestsSent`, which every run must meet. */
  readonly threshold: keyof Thresholds | 'allRequestsSent';
  readonly limit: number;
  readonly actual: number;
  readonly message: string;
}

export interface Report {
  readonly runId: string;
  readonly target: string;
  readonly users: number;
  readonly callsPerUser: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  /** total = ok + failed = requests sent; notSent = planned but cut off by the Lambda time limit. */
  readonly requests: { readonly total: number; readonly ok: number; readonly failed: number; readonly notSent: number };
  readonly statusCodes: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly throughputRps: number;
  readonly latencyMs: LatencySummaryMs;
  readonly thresholds: { readonly passed: boolean; readonly failures: readonly ThresholdFailure[] };
  readonly workers: {
    readonly expected: number;
    readonly reported: number;
    readonly lateStarts: number;
    readonly tokenRefreshes: number;
  };
  /** Per second from the first request: completed requests and failures. */
  readonly timeline: readonly { readonly second: number; readonly requests: number; readonly failed: number }[];
}

export interface ReportContext {
  readonly runId: string;
  readonly target: string;
  readonly users: number;
  readonly callsPerUser: number;
  readonly thresholds: Thresholds;
}

const round = (value: number, digits = 2): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Workers later than this after the barrier are counted: they weaken "all users at once". */
const LATE_START_MS = 1_000;

/** Merges worker summaries exactly: counters add, HDR histograms add; nothing is averaged. */
export function mergeSummaries(context: ReportContext, summaries: readonly WorkerSummary[]): Report {
  const counters = newCounters();
  const histogram = newHistogram();
  let startedAt = Number.POSITIVE_INFINITY;
  let finishedAt = Number.NEGATIVE_INFINITY;
  let minUs = Number.POSITIVE_INFINITY;
  let maxUs = 0;
  let lateStarts = 0;
  let tokenRefreshes = 0;
  let tokenRefreshFailures = 0;
  for (const summary of summaries) {
    addCounters(counters, summary.counters);
    histogram.add(decodeHistogram(summary.histogram));
    if (summary.maxLatencyUs > 0) {
      minUs = Math.min(minUs, summary.minLatencyUs);
      maxUs = Math.max(maxUs, summary.maxLatencyUs);
    }
    startedAt = Math.min(startedAt, summary.startedAt);
    finishedAt = Math.max(finishedAt, summary.finishedAt);
    if (summary.lateStartMs > LATE_START_MS) lateStarts++;
    tokenRefreshes += summary.tokenRefreshes;
    tokenRefreshFailures += summary.tokenRefreshFailures;
  }
  if (summaries.length === 0) startedAt = finishedAt = Date.now();
  const durationSeconds = Math.max(0, (finishedAt - startedAt) / 1000);
  const firstSecond = Math.floor(startedAt / 1000);
  const timeline = Object.entries(counters.timeline)
    .map(([second, [requests, failed]]) => ({ second: Number(second) - firstSecond, requests, failed }))
    .sort((a, b) => a.second - b.second);
  const partial = {
    runId: context.runId,
    target: context.target,
    users: context.users,
    callsPerUser: context.callsPerUser,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationSeconds: round(durationSeconds, 3),
    requests: { total: counters.total, ok: counters.ok, failed: counters.failed, notSent: counters.notSent },
    statusCodes: counters.statusCodes,
    // The common transport errors are always listed, so "0 timeouts" is visible, not implied.
    errors: { ECONNRESET: 0, timeout: 0, ...counters.errors },
    throughputRps: durationSeconds > 0 ? round(counters.total / durationSeconds) : 0,
    latencyMs: latencySummary(histogram, maxUs > 0 ? { minUs, maxUs } : undefined),
    workers: { expected: context.users, reported: summaries.length, lateStarts, tokenRefreshes, tokenRefreshFailures },
    timeline,
  };
  return { ...partial, thresholds: evaluateThresholds(context.thresholds, partial) };
}

export function evaluateThresholds(
  thresholds: Thresholds,
  report: Pick<Report, 'requests' | 'latencyMs' | 'throughputRps'>,
): Report['thresholds'] {
  const failures: ThresholdFailure[] = [];
  if (report.requests.notSent > 0) {
    failures.push({
      threshold: 'allRequestsSent',
      limit: 0,
      actual: report.requests.notSent,
      message: `${report.requests.notSent} requests not sent: workers reached Lambda's time limit (fewer calls per user, or more concurrency)`,
    });
  }
  const errorRate = report.requests.total > 0 ? report.requests.failed / report.requests.total : 0;
  const above = (
    threshold: keyof Thresholds,
    limit: number | undefined,
    actual: number,
    label: string,
    unit: string,
  ) => {
    if (limit !== undefined && actual > limit) {
      failures.push({ threshold, limit, actual, message: `${label} ${actual}${unit} > ${limit}${unit}` });
    }
  };
  above('p95Ms', thresholds.p95Ms, report.latencyMs.p95, 'p95', ' ms');
  above('p99Ms', thresholds.p99Ms, report.latencyMs.p99, 'p99', ' ms');
  above('maxErrorRate', thresholds.maxErrorRate, round(errorRate, 4), 'error rate', '');
  if (thresholds.minThroughputRps !== undefined && report.throughputRps < thresholds.minThroughputRps) {
    failures.push({
      threshold: 'minThroughputRps',
      limit: thresholds.minThroughputRps,
      actual: report.throughputRps,
      message: `throughput ${report.throughputRps} rps < ${thresholds.minThroughputRps} rps`,
    });
  }
  return { passed: failures.length === 0, failures };
}

/** The execution output: the report without its timeline (state payloads stay small). */
export function headline(report: Report): Omit<Report, 'timeline'> {
  const { timeline: _timeline, ...rest } = report;
  return rest;
}
