import { setLogSink } from '../../src/lib/log';
import { renderHtml } from '../../src/lib/report/html';
import type { Report } from '../../src/lib/report/report';
import { runLocal } from '../../src/local/local-run';

beforeAll(() => setLogSink(() => {}));
afterAll(() => setLogSink(undefined));

describe('report.html of a real local run (3 users × 20 calls)', () => {
  let report: Report;
  let html: string;
  beforeAll(async () => {
    const result = await runLocal({ users: 3, calls: 20, thresholds: { p95Ms: 60_000, minThroughputRps: 1_000_000 } });
    if (!result.report) throw new Error('the local run left no report');
    report = result.report;
    html = renderHtml(report);
  }, 120_000);

  it('carries the timeline with percentiles and the login latency', () => {
    expect(report.timeline.reduce((n, t) => n + t.requests, 0)).toBe(60);
    expect(report.timeline.some((t) => t.p95 !== null && t.activeUsers > 0)).toBe(true);
    expect(report.loginLatencyMs?.max).toBeGreaterThan(0);
    expect(report.histograms.total).not.toBeNull();
  });

  it('has the SVG charts: percentiles, throughput, active users and the distribution, with axes', () => {
    const charts = [...html.matchAll(/<svg class="chart"[^>]*aria-label="([^"]*)"/g)].map((m) => m[1]);
    expect(charts).toEqual([
      expect.stringContaining('Latency percentiles over time'),
      expect.stringContaining('Throughput and failures over time'),
      expect.stringContaining('Active users over time'),
      expect.stringContaining('Latency distribution'),
    ]);
    expect(html).toContain('seconds since the start barrier');
    expect(html).toContain('latency (ms)');
    // A run this short may fit in one interval: its series are dots, not lines.
    expect((html.match(/<polyline|<circle/g) ?? []).length).toBeGreaterThanOrEqual(6);
  });

  it('has the threshold table: each limit, the observed value and pass/fail', () => {
    const table = html.match(/<table class="checks">(.*?)<\/table>/s)?.[1] ?? '';
    expect(table).toMatch(/p95 latency<\/th><td>≤ 60,000 ms<\/td><td>[0-9,]+\.\d\d ms<\/td><td class="result">PASS/);
    expect(table).toMatch(
      /throughput<\/th><td>≥ 1,000,000 responses\/s<\/td><td>[0-9,.]+ responses\/s<\/td><td class="result">FAIL/,
    );
    expect(html).toContain('FAILED');
  });

  it('is standalone: no script, no external resource', () => {
    expect(html).not.toMatch(/<script|<link|https?:\/\/(?!127\.0\.0\.1)/);
  });
});
