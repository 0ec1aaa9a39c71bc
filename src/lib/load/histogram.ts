import * as hdr from 'hdr-histogram-js';

/**
 * Latencies are recorded in microseconds with 3 significant digits, so merged percentiles are exact
 * to 0.1 % whatever the number of workers: histograms add, percentiles are never averaged.
 */
export type Histogram = hdr.Histogram;

export const newHistogram = (): Histogram =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

/**
 * The same precision in a packed (sparse) array: about 15 KiB instead of 96 KiB for latencies up to a
 * minute, for about 0.5 µs more per value. Per-name histograms use it: 100 users of a worker × 20
 * names would otherwise hold some 190 MB of a 1 GB worker.
 */
export const newCompactHistogram = (): Histogram =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    bitBucketSize: 'packed',
  });

export const encodeHistogram = (histogram: Histogram): string => hdr.encodeIntoCompressedBase64(histogram);

export const decodeHistogram = (encoded: string): Histogram => hdr.decodeFromCompressedBase64(encoded, 32, false);

export interface LatencySummaryMs {
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

const ms = (micros: number): number => Math.round(micros) / 1000;

/**
 * Percentiles from the histogram; min and max exact when given (an encoded histogram keeps only the
 * bucket of its extremes, so workers send them alongside). Null when nothing was recorded: no latency
 * is not a latency of 0. A percentile is the highest value of its HDR bucket, which can lie above the
 * exact max (or below the exact min), so every figure is clamped to [min, max].
 */
export function latencySummary(
  histogram: Histogram,
  exact?: { minUs: number; maxUs: number },
): LatencySummaryMs | null {
  if (histogram.totalCount === 0) return null;
  const minUs = exact?.minUs ?? histogram.minNonZeroValue;
  const maxUs = exact?.maxUs ?? histogram.maxValue;
  const clamp = (us: number) => ms(Math.min(maxUs, Math.max(minUs, us)));
  return {
    min: ms(minUs),
    mean: clamp(histogram.mean),
    p50: clamp(histogram.getValueAtPercentile(50)),
    p90: clamp(histogram.getValueAtPercentile(90)),
    p95: clamp(histogram.getValueAtPercentile(95)),
    p99: clamp(histogram.getValueAtPercentile(99)),
    max: ms(maxUs),
  };
}
