import { decodeHistogram, encodeHistogram, type Histogram, newCompactHistogram, newHistogram } from './histogram';

/**
 * A user's timeline starts at 1 s intervals and doubles its interval whenever it would hold more than
 * this many: a 15-minute run ends at 16 s intervals. 10,000 users × 64 encoded histograms is what the
 * Aggregate decodes and adds (see `npm run bench`); 900 one-second histograms per user would be 14×
 * that. Intervals are powers of two seconds, so users with different intervals merge exactly.
 */
export const MAX_INTERVALS = 64;
export const BASE_INTERVAL_MS = 1_000;

/** One interval of one user, as written in its summary. */
export interface EncodedInterval {
  /** Index from the start barrier: the interval covers [index × intervalMs, (index + 1) × intervalMs). */
  readonly i: number;
  /** Outcomes: requests attempted and settled in the interval. */
  readonly n: number;
  readonly failed: number;
  /** Latency HDR histogram (µs) of the interval's responses; '' when there was none. */
  readonly h: string;
}

export interface EncodedTimeline {
  readonly intervalMs: number;
  readonly intervals: readonly EncodedInterval[];
}

interface Slot {
  n: number;
  failed: number;
  histogram: Histogram | undefined;
}

/**
 * Per-interval outcomes and latencies of one user, keyed by time since the start barrier (`origin`, epoch ms),
 * not wall-clock seconds. Per request: one division and, when the interval changes, one map lookup; a
 * histogram is created only when its interval gets its first response.
 */
export class TimelineRecorder {
  private intervalMs = BASE_INTERVAL_MS;
  private readonly slots = new Map<number, Slot>();
  private currentIndex = Number.NaN;
  private current: Slot | undefined;

  /**
   * `expectedMs`: how long the load should last from the origin, when the model says (duration, rate,
   * stages): the interval is chosen up front so that no folding happens while requests are in flight.
   */
  constructor(
    private readonly origin: number,
    expectedMs?: number,
  ) {
    if (expectedMs !== undefined && Number.isFinite(expectedMs))
      while (expectedMs / this.intervalMs >= MAX_INTERVALS) this.intervalMs *= 2;
  }

  /** One settled request at epoch ms `at`: `us` is its latency when a response came back. */
  record(at: number, ok: boolean, us: number | undefined): void {
    // Outcomes before the barrier (a clock a little off) belong to the first interval.
    const index = Math.max(0, Math.floor((at - this.origin) / this.intervalMs));
    let slot = index === this.currentIndex ? this.current : undefined;
    if (!slot) {
      if (index >= MAX_INTERVALS) {
        this.coarsen(index);
        this.record(at, ok, us);
        return;
      }
      slot = this.slots.get(index);
      if (!slot) {
        slot = { n: 0, failed: 0, histogram: undefined };
        this.slots.set(index, slot);
      }
      this.currentIndex = index;
      this.current = slot;
    }
    slot.n++;
    if (!ok) slot.failed++;
    if (us !== undefined) {
      slot.histogram ??= newCompactHistogram();
      slot.histogram.recordValue(us);
    }
  }

  /** Doubles the interval until `index` (at the old interval) fits, folding neighbouring slots together. */
  private coarsen(index: number): void {
    let factor = 1;
    while (Math.floor(index / factor) >= MAX_INTERVALS) factor *= 2;
    const folded = new Map<number, Slot>();
    for (const [i, slot] of this.slots) {
      const into = folded.get(Math.floor(i / factor));
      if (!into) folded.set(Math.floor(i / factor), slot);
      else {
        into.n += slot.n;
        into.failed += slot.failed;
        if (slot.histogram) {
          if (into.histogram) addRecorded(into.histogram, slot.histogram);
          else into.histogram = slot.histogram;
        }
      }
    }
    this.slots.clear();
    for (const [i, slot] of folded) this.slots.set(i, slot);
    this.intervalMs *= factor;
    this.currentIndex = Number.NaN;
    this.current = undefined;
  }

  encode(): EncodedTimeline {
    return {
      intervalMs: this.intervalMs,
      intervals: [...this.slots]
        .sort(([a], [b]) => a - b)
        .map(([i, s]) => ({ i, n: s.n, failed: s.failed, h: s.histogram ? encodeHistogram(s.histogram) : '' })),
    };
  }
}

/** The methods of hdr-histogram-js's JsHistogram that reach single buckets (not in its declared interface). */
interface Buckets {
  countsArrayIndex(value: number): number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  recordValueWithCount(value: number, count: number): void;
}

/**
 * Histogram.add reads every bucket of the whole range (some 22,000, slow in a packed array: about 4 ms);
 * only the buckets between the source's min and max can hold counts, so only those are read.
 */
function addRecorded(into: Histogram, from: Histogram): void {
  if (from.totalCount === 0) return;
  const source = from as unknown as Buckets;
  const target = into as unknown as Buckets;
  const last = source.countsArrayIndex(from.maxValue);
  for (let i = source.countsArrayIndex(from.minNonZeroValue); i <= last; i++) {
    const count = source.getCountAtIndex(i);
    if (count > 0) target.recordValueWithCount(source.valueFromIndex(i), count);
  }
}

/** One interval of the merged timeline. */
export interface MergedInterval {
  readonly n: number;
  readonly failed: number;
  readonly histogram: Histogram;
}

/**
 * Adds the users' timelines exactly: at the coarsest interval any user reached (every interval is a
 * power-of-two multiple of the base, so each finer interval falls into exactly one coarser one), the
 * counts add and the histograms add. Histograms are decoded one at a time: memory is one per interval.
 */
export function mergeTimelines(timelines: Iterable<EncodedTimeline>): {
  intervalMs: number;
  intervals: Map<number, MergedInterval>;
} {
  const all = [...timelines];
  const intervalMs = all.reduce((max, t) => Math.max(max, t.intervalMs), BASE_INTERVAL_MS);
  const intervals = new Map<number, { n: number; failed: number; histogram: Histogram }>();
  for (const timeline of all) {
    const factor = intervalMs / timeline.intervalMs;
    for (const part of timeline.intervals) {
      const index = Math.floor(part.i / factor);
      let into = intervals.get(index);
      if (!into) {
        into = { n: 0, failed: 0, histogram: newHistogram() };
        intervals.set(index, into);
      }
      into.n += part.n;
      into.failed += part.failed;
      if (part.h !== '') addRecorded(into.histogram, decodeHistogram(part.h));
    }
  }
  return { intervalMs, intervals };
}
