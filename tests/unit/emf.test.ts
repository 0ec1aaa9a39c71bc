import { newHistogram } from '../../src/lib/load/histogram';
import { emfLines, latencyDistribution, METRICS_NAMESPACE } from '../../src/lib/metrics/emf';

/** The EMF specification's rules for the `_aws` member and the values it points at (CloudWatch User Guide). */
function expectValidEmf(line: string): Record<string, unknown> {
  const root = JSON.parse(line) as Record<string, any>;
  const aws = root._aws;
  expect(Number.isInteger(aws.Timestamp)).toBe(true);
  expect(Array.isArray(aws.CloudWatchMetrics)).toBe(true);
  for (const directive of aws.CloudWatchMetrics) {
    expect(typeof directive.Namespace).toBe('string');
    expect(directive.Namespace.length).toBeGreaterThan(0);
    for (const set of directive.Dimensions) {
      expect(set.length).toBeLessThanOrEqual(30);
      for (const name of set) expect(typeof root[name]).toBe('string');
    }
    expect(directive.Metrics.length).toBeLessThanOrEqual(100);
    for (const metric of directive.Metrics) {
      const value = root[metric.Name];
      if (typeof value === 'number') continue;
      expect(value.Values.length).toBe(value.Counts.length);
      expect(value.Values.length).toBeLessThanOrEqual(100);
    }
  }
  return root;
}

describe('EMF lines', () => {
  it('carry requests, failures and a latency distribution by stack and run, valid per the spec', () => {
    const latency = newHistogram();
    for (let i = 1; i <= 5_000; i++) latency.recordValue(i * 37);
    const lines = emfLines({
      stack: 'apiloadtest-dev',
      runId: 'run-1',
      timestamp: 1_800_000_000_000,
      requests: 5_010,
      failures: 12,
      failuresByKind: { timeout: 10, '5xx': 2, ECONNRESET: 0 },
      latency,
    });
    expect(lines).toHaveLength(3);
    const main = expectValidEmf(lines[0] ?? '') as any;
    expect(main._aws.CloudWatchMetrics[0].Namespace).toBe(METRICS_NAMESPACE);
    expect(main).toMatchObject({ Stack: 'apiloadtest-dev', RunId: 'run-1', Requests: 5_010, Failures: 12 });
    expect(main.Latency.Counts.reduce((a: number, b: number) => a + b, 0)).toBe(5_000);
    const kinds = lines.slice(1).map((line) => expectValidEmf(line) as any);
    expect(kinds.map((k) => [k.Kind, k.FailuresByKind])).toEqual([
      ['timeout', 10],
      ['5xx', 2],
    ]);
  });

  it('reports each latency at or above what it stands for, in at most 100 values', () => {
    const h = newHistogram();
    const recorded = [900, 1_000, 52_899, 52_899, 3_000_000];
    for (const us of recorded) h.recordValue(us);
    const few = latencyDistribution(h);
    expect(few.Counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(Math.max(...few.Values)).toBeGreaterThanOrEqual(3_000);
    const many = newHistogram();
    for (let us = 100; us < 10_000_000; us = Math.ceil(us * 1.01)) many.recordValue(us);
    const merged = latencyDistribution(many);
    expect(merged.Values.length).toBeLessThanOrEqual(100);
    expect(merged.Counts.reduce((a, b) => a + b, 0)).toBe(many.totalCount);
    expect(Math.max(...merged.Values)).toBeGreaterThanOrEqual(many.maxValue / 1000);
  });

  it('leaves Latency out of an interval without a response', () => {
    const [line] = emfLines({
      stack: 's',
      runId: 'r',
      timestamp: 1,
      requests: 3,
      failures: 3,
      failuresByKind: { ECONNREFUSED: 3 },
      latency: newHistogram(),
    });
    const root = expectValidEmf(line ?? '') as any;
    expect(root.Latency).toBeUndefined();
    expect(root._aws.CloudWatchMetrics[0].Metrics.map((m: any) => m.Name)).toEqual(['Requests', 'Failures']);
  });
});
