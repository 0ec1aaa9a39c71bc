import { compareReports, formatComparison } from '../../src/lib/report/compare';
import { renderHtml } from '../../src/lib/report/html';
import { renderJunit } from '../../src/lib/report/junit';
import { asGiven, change, count, ms, percent, points, rate } from '../../src/lib/report/numbers';
import { formatReport } from '../../src/local/format';
import { parseJunit, reportOf } from '../helpers';

describe('numbers', () => {
  it('writes each kind of figure one way', () => {
    expect(ms(2228.3915)).toBe('2,228.39');
    expect(ms(5)).toBe('5.00');
    expect(count(1234567)).toBe('1,234,567');
    expect(rate(333.3333)).toBe('333.33');
    expect(rate(1000)).toBe('1,000');
    expect(percent(0.125)).toBe('12.50 %');
    expect(percent(0.000001)).toBe('0.0001 %');
    expect(change(1.2)).toBe('+20.0 %');
    expect(change(0.5)).toBe('-50.0 %');
    expect(points(0.04)).toBe('4.00 pp');
    expect(asGiven(0.001)).toBe('0.001');
    expect(asGiven(0.1 + 0.2)).toBe('0.3');
  });
});

describe('the same figure reads the same in the console, report.html, JUnit and the comparison', () => {
  const thresholds = { p95Ms: 1_000, maxErrorRate: 0.1, minThroughputRps: 50 };

  // 1,000 latencies from 2.3 ms to 2,345.678 ms in one second, one request in 8 answered 503.
  const latencies = Array.from({ length: 1000 }, (_, i) => Math.round(((i + 1) * 2_345_678) / 1000));
  const report = reportOf('run-1', latencies, { failEvery: 8, thresholds });
  const consoleText = formatReport(report);
  const html = renderHtml(report, { baseline: report });
  const junit = parseJunit(renderJunit(report, thresholds));
  const caseNamed = (start: string): string =>
    junit.testcase.map((c: { name: string }) => c.name).find((name: string) => name.startsWith(start)) ?? '';
  const comparison = formatComparison(compareReports(report, report, 0.1), 0.1);
  const p95 = report.latencyMs?.p95 ?? Number.NaN;

  it('p95', () => {
    expect(p95).toBeGreaterThan(1000);
    const text = ms(p95);
    expect(text).toMatch(/^\d,\d{3}\.\d\d$/);
    // The console's p95 column, the HTML's latency table and verdict, JUnit's p95 case, the comparison.
    const figures = consoleText.split('\n')[consoleText.split('\n').findIndex((l) => l.startsWith('latency ms')) + 1];
    expect(figures?.trim().split(/\s+/)[4]).toBe(text);
    expect(html).toContain(`<td>${text}</td>`);
    expect(html).toContain(`<th>p95 latency</th><td>≤ 1,000 ms</td><td>${text} ms</td>`);
    expect(caseNamed('p95 latency')).toBe(`p95 latency ≤ 1,000 ms (observed ${text} ms)`);
    expect(consoleText).toContain(`p95 ${text} ms > 1,000 ms`);
    expect(comparison).toMatch(new RegExp(`\\(total\\)\\s+p95 ms\\s+${text}\\s+${text}\\s+0\\.00`));
  });

  it('error rate', () => {
    const text = percent(report.requests.failed / report.requests.total);
    expect(text).toBe('12.50 %');
    expect(consoleText).toContain(`error rate ${text} > 10 %`);
    expect(html).toContain(`<th>error rate</th><td>≤ 10 %</td><td>${text}</td>`);
    expect(html).toContain(`<td>${text}</td>`);
    expect(caseNamed('error rate')).toBe(`error rate ≤ 10 % (observed ${text})`);
    expect(comparison).toMatch(new RegExp(`\\(total\\)\\s+error rate\\s+${text}\\s+${text}`));
  });

  it('throughput and counts', () => {
    const text = rate(report.throughputRps);
    expect(consoleText).toContain(`throughput ${text} responses/s`);
    expect(html).toContain(`<th>throughput (responses/s)</th><td>${text}</td>`);
    expect(caseNamed('throughput')).toBe(`throughput ≥ 50 responses/s (observed ${text} responses/s)`);
    expect(comparison).toMatch(new RegExp(`\\(total\\)\\s+throughput rps\\s+${text}\\s+${text}`));
    expect(consoleText).toContain('requests   1,000');
    expect(html).toContain('<th>attempted</th><td>1,000</td>');
    expect(caseNamed('request default')).toBe(`request default: 1,000 sent, 125 failed, p95 ${ms(p95)} ms`);
  });
});
