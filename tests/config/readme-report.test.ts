import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import { encodeHistogram, newHistogram } from '../../src/lib/load/histogram';
import { countOutcome, newCounters } from '../../src/lib/load/summary';
import { mergeSummaries } from '../../src/lib/report/report';

/** The top-level fields the README's report table documents (its first column's backticked names). */
function documentedFields(): Set<string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Report\n'), readme.indexOf('\n### What the numbers promise'));
  const fields = new Set<string>();
  for (const line of section.split('\n')) {
    const firstCell = /^\| ([^|]+) \|/.exec(line)?.[1];
    if (!firstCell || firstCell.startsWith('---') || firstCell === 'field') continue;
    for (const [, name] of firstCell.matchAll(/`([A-Za-z][A-Za-z0-9]*)[^`]*`/g)) if (name) fields.add(name);
  }
  return fields;
}

describe("README's report table", () => {
  it('documents every field report.json has, and no field it does not have', () => {
    const counters = newCounters();
    const histogram = newHistogram();
    histogram.recordValue(1_000);
    countOutcome(counters, { status: 200 }, 1_000_000);
    const report = mergeSummaries(
      {
        runId: 'r',
        target: 'http://127.0.0.1/',
        users: 1,
        load: { model: 'iterations', iterations: 1, concurrency: 1 },
        thresholds: {},
      },
      [
        {
          version: 1,
          runId: 'r',
          userIndex: 0,
          username: 'loadtestuser0',
          counters,
          histogram: encodeHistogram(histogram),
          minLatencyUs: 1_000,
          maxLatencyUs: 1_000,
          startedAt: 1_000_000,
          finishedAt: 1_000_001,
          lateStartMs: 0,
          tokenRefreshes: 0,
          tokenRefreshFailures: 0,
        },
      ],
    );
    expect([...documentedFields()].sort()).toEqual(Object.keys(report).sort());
  });
});
