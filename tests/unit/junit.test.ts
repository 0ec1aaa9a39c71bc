import { encodeHistogram, newHistogram } from '../../src/lib/load/histogram';
import { countOutcome, newCounters, type WorkerSummary } from '../../src/lib/load/summary';
import { renderJunit } from '../../src/lib/report/junit';
import { mergeSummaries } from '../../src/lib/report/report';
import { parseJunit } from '../helpers';

function summary(statuses: number[], errors: string[] = []): WorkerSummary {
  const counters = newCounters();
  const histogram = newHistogram();
  statuses.forEach((status, i) => {
    histogram.recordValue(10_000 + i);
    countOutcome(counters, { status }, 1_000_000);
  });
  for (const error of errors) countOutcome(counters, { error }, 1_000_000);
  return {
    version: 1,
    runId: 'r',
    userIndex: 0,
    username: 'loadtestuser0',
    counters,
    histogram: encodeHistogram(histogram),
    minLatencyUs: statuses.length ? 10_000 : 0,
    maxLatencyUs: statuses.length ? 10_000 + statuses.length - 1 : 0,
    startedAt: 1_000_000,
    finishedAt: 1_001_000,
    lateStartMs: 0,
    tokenRefreshes: 0,
    tokenRefreshFailures: 0,
  };
}

const parse = parseJunit;

const context = (thresholds: Record<string, number>) => ({
  runId: 'run-<1>',
  target: 'http://127.0.0.1/x',
  users: 1,
  load: { model: 'iterations' as const, iterations: 4, concurrency: 1 },
  thresholds,
});

describe('renderJunit', () => {
  it('has one passing case per configured threshold and per check every run must pass', () => {
    const thresholds = { p95Ms: 1_000, maxErrorRate: 0.5 };
    const report = mergeSummaries(context(thresholds), [summary([200, 200, 200, 503])]);
    const suite = parse(renderJunit(report, thresholds));
    expect(suite.name).toBe('apiloadtest run-<1>');
    expect(suite.tests).toBe('6');
    expect(suite.failures).toBe('0');
    const names = suite.testcase.map((c: any) => c.name);
    expect(names).toEqual(
      expect.arrayContaining(['p95 latency ≤ 1,000 ms (observed 10.00 ms)', 'error rate ≤ 50 % (observed 25.00 %)']),
    );
  });

  it('fails the cases that failed, with the limit and the observed value', () => {
    const thresholds = { p99Ms: 5, maxErrorRate: 0.1 };
    const report = mergeSummaries(context(thresholds), [summary([200, 503, 503])]);
    const suite = parse(renderJunit(report, thresholds));
    expect(suite.failures).toBe('2');
    const failed = suite.testcase.filter((c: any) => c.failure).map((c: any) => c.failure.message);
    expect(failed).toEqual([
      'p99 10.00 ms > 5 ms (limit 5 ms, observed 10.00 ms)',
      'error rate 66.67 % > 10 % (limit 10 %, observed 66.67 %)',
    ]);
  });

  it('fails the responses check of a run nobody answered', () => {
    const report = mergeSummaries(context({}), [summary([], ['ECONNREFUSED', 'ECONNREFUSED'])]);
    const suite = parse(renderJunit(report, {}));
    const responses = suite.testcase.find((c: any) => String(c.name).includes('responses received'));
    expect(responses.failure.message).toMatch(/no request got a response: 2 attempted/);
  });

  it('has a case per named request, failing one whose own error rate is above the limit', () => {
    const thresholds = { maxErrorRate: 0.2 };
    const report = mergeSummaries(context(thresholds), [summary([200, 200, 200, 503])]);
    const named = {
      ...report,
      byName: {
        list: {
          requests: { total: 10, responses: 10, ok: 10, failed: 0 },
          statusCodes: {},
          errors: {},
          latencyMs: null,
        },
        create: {
          requests: { total: 4, responses: 4, ok: 2, failed: 2 },
          statusCodes: {},
          errors: {},
          latencyMs: null,
        },
      },
    } as typeof report;
    const suite = parse(renderJunit(named, thresholds));
    const cases = suite.testcase.filter((c: any) => String(c.name).startsWith('request '));
    expect(cases.map((c: any) => [c.name, c.failure?.message])).toEqual([
      ['request list: 10 sent, 0 failed, p95 n/a ms', undefined],
      [
        'request create: 4 sent, 2 failed, p95 n/a ms',
        'create: error rate 50.00 % > 20 % (limit 20 %, observed 50.00 %)',
      ],
    ]);
  });
});
