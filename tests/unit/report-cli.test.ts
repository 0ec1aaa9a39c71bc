import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHistogram, newHistogram } from '../../src/lib/load/histogram';
import { newCounters, tally, type WorkerSummary } from '../../src/lib/load/summary';
import { compareReports } from '../../src/lib/report/compare';
import { mergeSummaries, type Report } from '../../src/lib/report/report';
import { main } from '../../src/local/report-cli';

/** A report of 3 users whose latencies are `scale` × a fixed spread (1..200 ms), and `failures` failed requests. */
function reportWith(scale: number, failures = 0): Report {
  const summaries: WorkerSummary[] = [0, 1, 2].map((userIndex) => {
    const counters = newCounters();
    const histogram = newHistogram();
    for (let i = 1; i <= 1_000; i++) {
      histogram.recordValue(Math.round(i * 200 * scale));
      tally(counters, { status: i <= failures ? 500 : 200 });
    }
    return {
      version: 1,
      runId: `run-${scale}`,
      userIndex,
      username: `u${userIndex}`,
      counters,
      histogram: encodeHistogram(histogram),
      minLatencyUs: Math.round(200 * scale),
      maxLatencyUs: Math.round(200_000 * scale),
      byName: {
        default: {
          counters,
          histogram: encodeHistogram(histogram),
          minUs: Math.round(200 * scale),
          maxUs: Math.round(200_000 * scale),
        },
      },
      startedAt: 1_000_000,
      finishedAt: 1_010_000,
      lateStartMs: 0,
      tokenRefreshes: 0,
      tokenRefreshFailures: 0,
    };
  });
  return mergeSummaries(
    {
      runId: `run-${scale}`,
      target: 'http://127.0.0.1/',
      users: 3,
      load: { model: 'iterations', iterations: 1_000, concurrency: 1 },
      thresholds: { p95Ms: 1_000 },
    },
    summaries,
  );
}

describe('npm run report', () => {
  let dir: string;
  const write = (name: string, report: Report) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(report));
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'apiloadtest-report-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 1 when p95 is 20 % above the baseline with --max-regression 10%, and prints the table', () => {
    const lines: string[] = [];
    const code = main(
      [write('a.json', reportWith(1.2)), '--baseline', write('b.json', reportWith(1)), '--max-regression', '10%'],
      (text) => lines.push(text),
    );
    const out = lines.join('\n');
    expect(code).toBe(1);
    expect(out).toMatch(/\(total\)\s+p95 ms\s+190\.[0-9]+\s+228\.[0-9]+\s+\+[0-9.]+\s+\+20\.0 %\s+REGRESSION/);
    expect(out).toMatch(/default\s+p95 ms.*REGRESSION/);
    expect(out).toMatch(/throughput rps/);
    expect(out).toContain('regression(s) beyond 10 %');
  });

  it('exits 0 when within the limit, and writes the HTML with the baseline beside', () => {
    const lines: string[] = [];
    const html = join(dir, 'a.html');
    const code = main(
      [
        write('a.json', reportWith(1.05)),
        '--baseline',
        write('b.json', reportWith(1)),
        '--max-regression',
        '10%',
        '--html',
        html,
      ],
      (text) => lines.push(text),
    );
    expect(code).toBe(0);
    expect(lines.join('\n')).toContain('no regression beyond 10 %');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<th>baseline</th>');
    expect(page).toContain('stroke-dasharray');
  });

  it('an error rate up beyond the limit is a regression; the same rate is not', () => {
    const worse = compareReports(reportWith(1, 50), reportWith(1, 10), 0.1);
    expect(worse.find((r) => r.request === '(total)' && r.metric === 'error rate')?.regression).toBe(true);
    const same = compareReports(reportWith(1, 10), reportWith(1, 10), 0.1);
    expect(same.some((r) => r.regression)).toBe(false);
  });

  it('as a process: exit status 1 on a regression, 2 on a file that is not a report', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/local/report-cli.ts', ...args], { encoding: 'utf8' });
    const regressed = run(write('a.json', reportWith(1.2)), '--baseline', write('b.json', reportWith(1)));
    expect(regressed.status).toBe(1);
    expect(regressed.stdout).toContain('REGRESSION');
    writeFileSync(join(dir, 'bad.json'), '{"hello":1}');
    const bad = run(join(dir, 'bad.json'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('not an apiloadtest report');
  });
});
