import type { Histogram } from '../load/histogram';

/**
 * CloudWatch Embedded Metric Format: a JSON log line that CloudWatch turns into metrics on its own, so
 * workers publish live metrics with no API call and nothing in the request path. Spec:
 * "Specification: Embedded metric format" (CloudWatch User Guide).
 */
export const METRICS_NAMESPACE = 'apiloadtest';

/** EMF allows at most 100 values in one metric's Values/Counts arrays. */
const MAX_VALUES = 100;

export interface IntervalMetrics {
  readonly stack: string;
  readonly runId: string;
  /** Epoch ms at the end of the interval. */
  readonly timestamp: number;
  /** Outcomes in the interval: responses and transport failures. */
  readonly requests: number;
  readonly failures: number;
  /** Failure kind (HTTP status class `5xx`, `4xx`, or a transport error name) -> count in the interval. */
  readonly failuresByKind: Readonly<Record<string, number>>;
  /** Response latencies of the interval, in µs. */
  readonly latency: Histogram;
}

/**
 * A latency distribution as EMF Values/Counts (ms): every recorded HDR bucket, merged into at most 100
 * log-spaced groups, each reported at its highest value (never below a latency it holds). CloudWatch
 * adds these across every worker, so its percentiles cover all users, not an average of workers'.
 */
export function latencyDistribution(histogram: Histogram): { Values: number[]; Counts: number[] } {
  const points: [number, number][] = [];
  // newHistogram() builds the JavaScript implementation, which has these (the Histogram interface does not).
  const js = histogram as unknown as JsHistogramParts;
  const iterator = js.recordedValuesIterator;
  iterator.reset();
  while (iterator.hasNext()) {
    const step = iterator.next();
    points.push([js.highestEquivalentValue(step.valueIteratedTo), step.countAtValueIteratedTo]);
  }
  if (points.length <= MAX_VALUES) {
    return { Values: points.map(([us]) => us / 1000), Counts: points.map(([, n]) => n) };
  }
  const low = Math.log(Math.max(1, points[0]?.[0] ?? 1));
  const high = Math.log(Math.max(1, points.at(-1)?.[0] ?? 1));
  const width = (high - low) / MAX_VALUES || 1;
  const groups = new Map<number, [number, number]>();
  for (const [us, n] of points) {
    const index = Math.min(MAX_VALUES - 1, Math.floor((Math.log(Math.max(1, us)) - low) / width));
    const group = groups.get(index) ?? [0, 0];
    groups.set(index, [Math.max(group[0], us), group[1] + n]);
  }
  const merged = [...groups.values()].sort((a, b) => a[0] - b[0]);
  return { Values: merged.map(([us]) => us / 1000), Counts: merged.map(([, n]) => n) };
}

interface JsHistogramParts {
  readonly recordedValuesIterator: {
    reset(): void;
    hasNext(): boolean;
    next(): { valueIteratedTo: number; countAtValueIteratedTo: number };
  };
  highestEquivalentValue(value: number): number;
}

/**
 * The interval as EMF lines: one with Requests, Failures and Latency by stack and run, and one per
 * failure kind with the kind as a third dimension (a dimension must be a property of its own line).
 */
export function emfLines(m: IntervalMetrics): string[] {
  const dimensions = { Stack: m.stack, RunId: m.runId };
  const directive = (metrics: { Name: string; Unit: string }[], dims: string[]) => ({
    Timestamp: m.timestamp,
    CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [dims], Metrics: metrics }],
  });
  const lines = [
    JSON.stringify({
      _aws: directive(
        [
          { Name: 'Requests', Unit: 'Count' },
          { Name: 'Failures', Unit: 'Count' },
          ...(m.latency.totalCount > 0 ? [{ Name: 'Latency', Unit: 'Milliseconds' }] : []),
        ],
        ['Stack', 'RunId'],
      ),
      ...dimensions,
      Requests: m.requests,
      Failures: m.failures,
      ...(m.latency.totalCount > 0 ? { Latency: latencyDistribution(m.latency) } : {}),
    }),
  ];
  for (const [kind, count] of Object.entries(m.failuresByKind)) {
    if (count <= 0) continue;
    lines.push(
      JSON.stringify({
        _aws: directive([{ Name: 'FailuresByKind', Unit: 'Count' }], ['Stack', 'RunId', 'Kind']),
        ...dimensions,
        Kind: kind,
        FailuresByKind: count,
      }),
    );
  }
  return lines;
}
