import { encodeHistogram, latencySummary, newHistogram } from '../../src/lib/load/histogram';
import { countOutcome, newCounters, type WorkerSummary } from '../../src/lib/load/summary';
import { renderHtml } from '../../src/lib/report/html';
import { evaluateThresholds, mergeSummaries } from '../../src/lib/report/report';

/** A deterministic pseudo-random stream, so that the test is the same on every run. */
function* lcg(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    yield x / 2 ** 31;
  }
}

function summary(userIndex: number, latenciesUs: number[], statuses: number[], errors: string[] = []): WorkerSummary {
  const counters = newCounters();
  const histogram = newHistogram();
  latenciesUs.forEach((us, i) => {
    histogram.recordValue(us);
    countOutcome(counters, { status: statuses[i % statuses.length] ?? 200 }, 1_000_000 + i * 10);
  });
  for (const error of errors) countOutcome(counters, { error }, 1_000_500);
  return {
    version: 1,
    runId: 'r',
    userIndex,
    username: `loadtestuser${userIndex}`,
    counters,
    histogram: encodeHistogram(histogram),
    minLatencyUs: latenciesUs.length ? Math.min(...latenciesUs) : 0,
    maxLatencyUs: latenciesUs.length ? Math.max(...latenciesUs) : 0,
    startedAt: 1_000_000 + userIndex,
    finishedAt: 1_002_000 + userIndex,
    lateStartMs: userIndex === 2 ? 5_000 : 0,
    tokenRefreshes: 1,
    tokenRefreshFailures: 0,
  };
}

const context = {
  runId: 'r',
  target: 'http://127.0.0.1/x',
  users: 3,
  load: { model: 'iterations' as const, iterations: 1, concurrency: 1 },
  thresholds: {},
};

describe('mergeSummaries', () => {
  it('gives the same percentiles as one histogram of all values (never an average of percentiles)', () => {
    const random = lcg(42);
    // Three very different workers: averaging their p99s would be far from the true p99.
    const workers = [
      Array.from({ length: 5_000 }, () => 1_000 + Math.floor(random.next().value * 1_000)),
      Array.from({ length: 3_000 }, () => 20_000 + Math.floor(random.next().value * 5_000)),
      Array.from({ length: 2_000 }, () => 200_000 + Math.floor(random.next().value * 100_000)),
    ];
    const all = newHistogram();
    for (const values of workers) for (const v of values) all.recordValue(v);
    const report = mergeSummaries(
      context,
      workers.map((values, i) => summary(i, values, [200])),
    );
    const flat = workers.flat();
    expect(report.latencyMs).toEqual(latencySummary(all, { minUs: Math.min(...flat), maxUs: Math.max(...flat) }));
    expect(report.latencyMs?.max).toBe(Math.max(...flat) / 1000);
    expect(report.requests).toMatchObject({ total: 10_000, responses: 10_000, ok: 10_000, failed: 0, notSent: 0 });
    expect(report.latencyMs?.p99).toBeGreaterThan(200);
  });

  it('adds counters exactly: total = ok + failed, status codes and transport errors kept apart', () => {
    const report = mergeSummaries({ ...context, users: 2 }, [
      summary(0, [1000, 1000, 1000, 1000], [200, 503]),
      summary(1, [1000, 1000], [302, 401], ['ECONNRESET', 'timeout', 'timeout']),
    ]);
    expect(report.requests).toEqual({
      total: 9,
      responses: 6,
      ok: 3,
      failed: 6,
      httpFailed: 3,
      transportFailed: 3,
      notSent: 0,
      dropped: 0,
    });
    expect(report.statusCodes).toEqual({ '200': 2, '503': 2, '302': 1, '401': 1 });
    expect(report.errors).toEqual({ ECONNREFUSED: 0, ECONNRESET: 1, timeout: 2 });
    expect(report.workers).toMatchObject({
      expected: 2,
      users: 2,
      usersReported: 2,
      usersUnknown: 0,
      failed: 0,
      lateStarts: 0,
      tokenRefreshes: 2,
      tokenRefreshFailures: 0,
    });
    expect(report.durationSeconds).toBe(2.001);
    // Throughput is what the target answered; attempts are shown apart.
    expect(report.throughputRps).toBeCloseTo(6 / 2.001, 2);
    expect(report.attemptedRps).toBeCloseTo(9 / 2.001, 2);
    expect(report.timeline.reduce((n, t) => n + t.requests, 0)).toBe(9);
  });

  it('merges each named request exactly across users: counts add, histograms add, exact extremes', () => {
    /** A user's summary with two named requests: `get` latencies and statuses, `put` errors only. */
    const named = (userIndex: number, getUs: number[], status: number, putErrors: number) => {
      const get = newCounters();
      const put = newCounters();
      const histogram = newHistogram();
      for (const us of getUs) {
        histogram.recordValue(us);
        countOutcome(get, { status }, 1_000_000);
      }
      for (let i = 0; i < putErrors; i++) countOutcome(put, { error: 'timeout' }, 1_000_000);
      const { timeline: _a, ...getCounts } = get;
      const { timeline: _b, ...putCounts } = put;
      const base = summary(userIndex, getUs, [status], Array(putErrors).fill('timeout'));
      return {
        ...base,
        byName: {
          get: {
            counters: getCounts,
            histogram: encodeHistogram(histogram),
            minUs: Math.min(...getUs),
            maxUs: Math.max(...getUs),
          },
          put: { counters: putCounts, histogram: encodeHistogram(newHistogram()), minUs: 0, maxUs: 0 },
        },
      };
    };
    const a = [1_000, 2_000, 3_000];
    const b = [40_000, 50_000];
    const report = mergeSummaries({ ...context, users: 2 }, [named(0, a, 200, 1), named(1, b, 404, 2)]);
    const all = newHistogram();
    for (const us of [...a, ...b]) all.recordValue(us);
    expect(report.byName.get).toEqual({
      requests: { total: 5, responses: 5, ok: 3, failed: 2 },
      statusCodes: { '200': 3, '404': 2 },
      errors: {},
      latencyMs: latencySummary(all, { minUs: 1_000, maxUs: 50_000 }),
    });
    expect(report.byName.put).toEqual({
      requests: { total: 3, responses: 0, ok: 0, failed: 3 },
      statusCodes: {},
      errors: { timeout: 3 },
      latencyMs: null,
    });
    // The totals are the sum of the names.
    expect(report.requests).toMatchObject({ total: 8, responses: 5, ok: 3, failed: 5 });
    expect(renderHtml(report)).toContain('<h2>By request name</h2>');
  });

  it('counts workers that started late', () => {
    const report = mergeSummaries(context, [summary(2, [1000], [200])]);
    expect(report.workers.lateStarts).toBe(1);
  });
});

describe('evaluateThresholds', () => {
  const base = {
    requests: {
      total: 100,
      responses: 98,
      ok: 95,
      failed: 5,
      httpFailed: 3,
      transportFailed: 2,
      notSent: 0,
      dropped: 0,
    },
    latencyMs: { min: 1, mean: 5, p50: 4, p90: 9, p95: 12, p99: 30, max: 50 },
    throughputRps: 80,
  };

  it('passes when every limit holds', () => {
    expect(evaluateThresholds({ p95Ms: 12, p99Ms: 30, maxErrorRate: 0.05, minThroughputRps: 80 }, base)).toEqual({
      passed: true,
      failures: [],
    });
  });

  it('lists each failed limit with a readable message', () => {
    const result = evaluateThresholds({ p95Ms: 10, p99Ms: 20, maxErrorRate: 0.01, minThroughputRps: 100 }, base);
    expect(result.passed).toBe(false);
    expect(result.failures.map((f) => f.message)).toEqual([
      'p95 12.00 ms > 10 ms',
      'p99 30.00 ms > 20 ms',
      'error rate 5.00 % > 1 %',
      'throughput 80 responses/s < 100 responses/s',
    ]);
  });
});

describe('requests not sent', () => {
  it('fails the run and says why', () => {
    const cut = summary(0, [1000, 1000], [200]);
    const report = mergeSummaries({ ...context, users: 1 }, [{ ...cut, counters: { ...cut.counters, notSent: 8 } }]);
    expect(report.requests).toMatchObject({ total: 2, ok: 2, failed: 0, notSent: 8 });
    expect(report.thresholds.passed).toBe(false);
    expect(report.thresholds.failures[0]).toMatchObject({ threshold: 'allRequestsSent', actual: 8 });
    expect(report.thresholds.failures[0]?.message).toMatch(/8 requests not sent: workers reached Lambda's time limit/);
  });
});

describe('a run nobody answered', () => {
  const refused = (user: number) =>
    summary(
      user,
      [],
      [200],
      Array.from({ length: 20 }, () => 'ECONNREFUSED'),
    );

  it('has no latency (not 0), no throughput, and fails with NoResponses whatever the thresholds', () => {
    const report = mergeSummaries(context, [refused(0), refused(1), refused(2)]);
    expect(report.requests).toMatchObject({ total: 60, responses: 0, ok: 0, failed: 60, transportFailed: 60 });
    expect(report.errors.ECONNREFUSED).toBe(60);
    expect(report.latencyMs).toBeNull();
    expect(report.throughputRps).toBe(0);
    expect(report.verdict).toEqual({
      passed: false,
      error: 'NoResponses',
      cause: 'no request got a response: 60 attempted, transport errors: ECONNREFUSED 60',
    });
  });

  it('fails a latency threshold it cannot judge, naming why', () => {
    const report = mergeSummaries({ ...context, thresholds: { p95Ms: 250 } }, [refused(0), refused(1), refused(2)]);
    expect(report.thresholds.failures).toEqual([
      { threshold: 'p95Ms', limit: 250, actual: null, message: 'p95 cannot be judged: no response to judge it by' },
    ]);
  });

  it('counts transport failures in the error rate', () => {
    const report = mergeSummaries({ ...context, users: 2, thresholds: { maxErrorRate: 0.1 } }, [
      summary(0, [1000, 1000, 1000], [200]),
      refused(1),
    ]);
    expect(report.thresholds.failures[0]).toMatchObject({ threshold: 'maxErrorRate', actual: 0.8696 });
    expect(report.verdict.error).toBe('ThresholdsFailed');
  });
});

describe('users that left no summary', () => {
  it('are counted as unknown, their worker as failed, and the run fails with WorkersFailed', () => {
    const report = mergeSummaries(
      { ...context, users: 4, workers: 2, workerOf: (u) => ({ firstUser: u - (u % 2), lastUser: u - (u % 2) + 1 }) },
      [summary(0, [1000], [200]), summary(1, [1000], [200]), summary(2, [1000], [200])],
    );
    expect(report.workers).toMatchObject({ expected: 2, usersReported: 3, usersUnknown: 1, failed: 1 });
    expect(report.workers.failures).toEqual([
      expect.objectContaining({ firstUser: 2, lastUser: 3, error: 'NoSummary', usersCounted: 1 }),
    ]);
    expect(report.verdict.error).toBe('WorkersFailed');
  });
});

describe('latencySummary', () => {
  it('never puts a percentile above the exact max or below the exact min', () => {
    const histogram = newHistogram();
    for (let i = 0; i < 100; i++) histogram.recordValue(52_899);
    // 52,899 µs sits in a bucket whose highest value is above it: unclamped, p99 would exceed max.
    expect(histogram.getValueAtPercentile(99)).toBeGreaterThan(52_899);
    const summary = latencySummary(histogram, { minUs: 52_899, maxUs: 52_899 });
    expect(summary).toEqual({
      min: 52.899,
      mean: 52.899,
      p50: 52.899,
      p90: 52.899,
      p95: 52.899,
      p99: 52.899,
      max: 52.899,
    });
  });

  it('is null when nothing was recorded', () => {
    expect(latencySummary(newHistogram())).toBeNull();
  });
});

describe('renderHtml', () => {
  it('is standalone and escapes what it shows', () => {
    const report = mergeSummaries({ ...context, runId: '<script>x</script>' }, [summary(0, [1000], [200])]);
    const html = renderHtml(report);
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  });
});
