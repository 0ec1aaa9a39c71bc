import { describeLoad } from '../load/model';
import type { Report } from './report';

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const row = (label: string, value: string | number): string =>
  `<tr><th>${escapeHtml(label)}</th><td>${escapeHtml(String(value))}</td></tr>`;

/** A standalone page (no scripts, no external assets): the report plus an SVG throughput chart. */
export function renderHtml(report: Report): string {
  const { latencyMs: l, requests: r } = report;
  const verdict = report.verdict.passed ? 'PASSED' : 'FAILED';
  const latency = l
    ? `${row('min', l.min)}${row('mean', l.mean)}${row('p50', l.p50)}${row('p90', l.p90)}${row('p95', l.p95)}${row('p99', l.p99)}${row('max', l.max)}`
    : row('latency', 'n/a: no request got a response');
  const s = report.serviceTimeMs;
  const service = s
    ? `<h2>Service time (ms), from the actual send</h2><table>${row('min', s.min)}${row('mean', s.mean)}${row('p50', s.p50)}${row('p90', s.p90)}${row('p95', s.p95)}${row('p99', s.p99)}${row('max', s.max)}</table>`
    : '';
  const names = Object.entries(report.byName);
  const byName =
    names.length > 1
      ? `<h2>By request name</h2><table><tr><th>name</th><th>requests</th><th>ok</th><th>failed</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>${names
          .map(
            ([name, x]) =>
              `<tr>${[
                name,
                x.requests.total,
                x.requests.ok,
                x.requests.failed,
                x.latencyMs?.p50 ?? 'n/a',
                x.latencyMs?.p95 ?? 'n/a',
                x.latencyMs?.p99 ?? 'n/a',
                x.latencyMs?.max ?? 'n/a',
              ]
                .map((v) => `<td>${escapeHtml(String(v))}</td>`)
                .join('')}</tr>`,
          )
          .join('')}</table>`
      : '';
  const failedWorkers = report.workers.failures
    .map((f) => `<li>${escapeHtml(`users ${f.firstUser}..${f.lastUser}: ${f.error}: ${f.message}`)}</li>`)
    .join('');
  const maxRps = Math.max(1, ...report.timeline.map((t) => t.requests));
  const width = Math.max(1, report.timeline.length) * 12;
  const bars = report.timeline
    .map((t, i) => {
      const h = Math.round((t.requests / maxRps) * 100);
      const fh = Math.round((t.failed / maxRps) * 100);
      return `<rect x="${i * 12}" y="${100 - h}" width="10" height="${h}" fill="#4a7"/><rect x="${i * 12}" y="${100 - fh}" width="10" height="${fh}" fill="#c44"/>`;
    })
    .join('');
  const table = (entries: Record<string, number>) =>
    Object.entries(entries)
      .map(([k, v]) => row(k, v))
      .join('') || row('none', 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>apiloadtest ${escapeHtml(report.runId)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}th,td{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}td{font-variant-numeric:tabular-nums}.PASSED{color:#2a7}.FAILED{color:#c22}</style>
</head><body>
<h1>apiloadtest report <span class="${verdict}">${verdict}</span></h1>
<p>${escapeHtml(report.verdict.cause)}</p>
<table>${row('run', report.runId)}${row('target', report.target)}${row('users', report.users)}${row('load per user', describeLoad(report.load))}${report.stopped ? row('STOPPED', `${report.stopped.stoppedAt}: ${report.stopped.reason}`) : ''}${row('started', report.startedAt)}${row('finished', report.finishedAt)}${row('duration (s)', report.durationSeconds)}${row('throughput (responses/s)', report.throughputRps)}${row('attempted/s', report.attemptedRps)}</table>
<h2>Requests</h2><table>${row('attempted', r.total)}${row('responses', r.responses)}${row('ok', r.ok)}${row('failed', r.failed)}${row('failed with a status', r.httpFailed)}${row('failed with no response', r.transportFailed)}${row('not sent (time limit or stop)', r.notSent)}${row('dropped (no free slot in time)', r.dropped)}</table>
<h2>Workers</h2><table>${row('planned', report.workers.expected)}${row('failed', report.workers.failed)}${row('users reported', report.workers.usersReported)}${row('users counted from errors', report.workers.usersCountedFromErrors)}${row('users unknown', report.workers.usersUnknown)}</table>${failedWorkers ? `<ul>${failedWorkers}</ul>` : ''}
<h2>Latency (ms)${report.serviceTimeMs ? ", from each request's intended start" : ''}</h2><table>${latency}</table>${service}${byName}
<h2>Status codes</h2><table>${table(report.statusCodes)}</table>
<h2>Transport errors (no response)</h2><table>${table(report.errors)}</table>
<h2>Thresholds</h2><ul>${report.thresholds.failures.map((f) => `<li>${escapeHtml(f.message)}</li>`).join('') || '<li>none failed</li>'}</ul>
<h2>Requests per second</h2><svg width="${width}" height="100" viewBox="0 0 ${width} 100" role="img" aria-label="requests per second">${bars}</svg>
<p>${report.timeline.length} s from the first request; peak ${maxRps} requests/s. Green: completed, red: failed.</p>
</body></html>
`;
}
