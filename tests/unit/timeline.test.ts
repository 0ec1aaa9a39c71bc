import { encodeHistogram, type Histogram, newHistogram } from '../../src/lib/load/histogram';
import { newCounters, type WorkerSummary } from '../../src/lib/load/summary';
import { MAX_INTERVALS, mergeTimelines, TimelineRecorder } from '../../src/lib/load/timeline';
import { mergeSummaries } from '../../src/lib/report/report';

function* lcg(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    yield x / 2 ** 31;
  }
}

const BARRIER = 1_700_000_000_000;

interface Sample {
  readonly at: number;
  readonly us: number | undefined;
  readonly ok: boolean;
}

/** K workers' samples over `seconds`: log-normal-ish latencies, 5 % failures, some without a response. */
function workers(k: number, perWorker: number, seconds: number, seed: number): Sample[][] {
  const random = lcg(seed);
  const next = () => random.next().value as number;
  return Array.from({ length: k }, () =>
    Array.from({ length: perWorker }, () => {
      const at = BARRIER + Math.floor(next() * seconds * 1000);
      const failed = next() < 0.05;
      const noResponse = failed && next() < 0.5;
      return { at, ok: !failed, us: noResponse ? undefined : Math.max(1, Math.round(Math.exp(7 + next() * 6))) };
    }).sort((a, b) => a.at - b.at),
  );
}

/** One histogram of all samples per interval: what the merge must match. */
function reference(samples: Sample[][], intervalMs: number): Map<number, { n: number; failed: number; h: Histogram }> {
  const out = new Map<number, { n: number; failed: number; h: Histogram }>();
  for (const s of samples.flat()) {
    const i = Math.floor((s.at - BARRIER) / intervalMs);
    const slot = out.get(i) ?? { n: 0, failed: 0, h: newHistogram() };
    slot.n++;
    if (!s.ok) slot.failed++;
    if (s.us !== undefined) slot.h.recordValue(s.us);
    out.set(i, slot);
  }
  return out;
}

const record = (samples: Sample[]) => {
  const recorder = new TimelineRecorder(BARRIER);
  for (const s of samples) recorder.record(s.at, s.ok, s.us);
  return recorder.encode();
};

const close = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.max(1, expected * 0.001));

describe('per-interval timeline histograms', () => {
  it('merged from K workers, matches one histogram of all samples per interval', () => {
    const samples = workers(7, 3_000, 30, 42);
    const merged = mergeTimelines(samples.map(record));
    expect(merged.intervalMs).toBe(1_000);
    const expected = reference(samples, 1_000);
    expect([...merged.intervals.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
    for (const [i, want] of expected) {
      const got = merged.intervals.get(i);
      expect(got?.n).toBe(want.n);
      expect(got?.failed).toBe(want.failed);
      expect(got?.histogram.totalCount).toBe(want.h.totalCount);
      for (const p of [50, 95, 99, 99.9])
        close(got?.histogram.getValueAtPercentile(p) ?? -1, want.h.getValueAtPercentile(p));
    }
  });

  it('a long run doubles its interval, and users at different intervals merge at the coarsest', () => {
    const short = workers(3, 2_000, 20, 7);
    const long = workers(2, 5_000, 300, 9);
    const encoded = [...short, ...long].map(record);
    // 300 s at most 64 intervals: 8 s.
    expect(encoded[0]?.intervalMs).toBe(1_000);
    expect(encoded[3]?.intervalMs).toBe(8_000);
    expect(encoded[3]?.intervals.length).toBeLessThanOrEqual(MAX_INTERVALS);
    const merged = mergeTimelines(encoded);
    expect(merged.intervalMs).toBe(8_000);
    for (const [i, want] of reference([...short, ...long], 8_000)) {
      const got = merged.intervals.get(i);
      expect(got?.n).toBe(want.n);
      expect(got?.failed).toBe(want.failed);
      for (const p of [50, 95, 99]) close(got?.histogram.getValueAtPercentile(p) ?? -1, want.h.getValueAtPercentile(p));
    }
  });

  it('a load of known length gets its interval up front (15 minutes: 16 s), so nothing folds while it runs', () => {
    expect(new TimelineRecorder(BARRIER, 900_000).encode().intervalMs).toBe(16_000);
    expect(new TimelineRecorder(BARRIER, 60_000).encode().intervalMs).toBe(1_000);
    expect(new TimelineRecorder(BARRIER).encode().intervalMs).toBe(1_000);
  });

  it('the report gives p50/p95/p99, responses, failures and active users per interval, and login latency', () => {
    const samples = workers(4, 1_000, 10, 3);
    const summaries: WorkerSummary[] = samples.map((mine, userIndex) => ({
      version: 1,
      runId: 'r',
      userIndex,
      username: `u${userIndex}`,
      counters: { ...newCounters(), total: mine.length, responses: mine.filter((s) => s.us !== undefined).length },
      histogram: encodeHistogram(newHistogram()),
      minLatencyUs: 0,
      maxLatencyUs: 0,
      timeline: record(mine),
      barrierAt: BARRIER,
      loginUs: 100_000 * (userIndex + 1),
      // User 3 starts late: active from the 5th second only.
      startedAt: BARRIER + (userIndex === 3 ? 5_000 : 0),
      finishedAt: BARRIER + 9_999,
      lateStartMs: 0,
      tokenRefreshes: 0,
      tokenRefreshFailures: 0,
    }));
    const report = mergeSummaries(
      {
        runId: 'r',
        target: 'http://127.0.0.1',
        users: 4,
        load: { model: 'iterations', iterations: 1000, concurrency: 1 },
        thresholds: {},
      },
      summaries,
    );
    expect(report.timelineIntervalSeconds).toBe(1);
    expect(report.timelineEndSecond).toBe(9.999);
    expect(report.timeline.map((t) => t.second)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const expected = reference(samples, 1_000);
    for (const point of report.timeline) {
      const want = expected.get(point.second);
      expect(point.requests).toBe(want?.n);
      expect(point.failed).toBe(want?.failed);
      expect(point.responses).toBe(want?.h.totalCount);
      close((point.p95 ?? -1) * 1000, want?.h.getValueAtPercentile(95) ?? 0);
      close((point.p99 ?? -1) * 1000, want?.h.getValueAtPercentile(99) ?? 0);
      expect(point.activeUsers).toBe(point.second < 5 ? 3 : 4);
    }
    expect(report.loginLatencyMs?.min).toBe(100);
    expect(report.loginLatencyMs?.max).toBe(400);
  });
});
