import type { Thresholds } from '../input';
import { decodeHistogram, type LatencySummaryMs } from '../load/histogram';
import { describeLoad } from '../load/model';
import { observedValue } from './junit';
import { change, count, ms, percent, rate as perSecond, seconds, thresholdValue } from './numbers';
import type { Report } from './report';
import { escapeHtml, lineChart, type Series } from './svg';

/** Figures come formatted (numbers.ts): a bare number here would be formatted some other way. */
const cell = (value: string | null | undefined): string => `<td>${escapeHtml(value ?? 'n/a')}</td>`;

const row = (label: string, value: string | null): string => `<tr><th>${escapeHtml(label)}</th>${cell(value)}</tr>`;

const head = (...labels: string[]): string => `<tr>${labels.map((l) => `<th>${escapeHtml(l)}</th>`).join('')}</tr>`;

interface Check {
  readonly name: string;
  readonly limit: string;
  readonly observed: string;
  readonly passed: boolean;
}

const LABELS = {
  p95Ms: ['p95 latency', '≤'],
  p99Ms: ['p99 latency', '≤'],
  maxErrorRate: ['error rate', '≤'],
  minThroughputRps: ['throughput', '≥'],
} as const;

/** Every check of the verdict: the ones every run must pass, then each configured threshold. */
function checks(report: Report): Check[] {
  const limits: Thresholds = report.thresholdLimits ?? {};
  const failed = new Map(report.thresholds.failures.map((f) => [f.threshold, f]));
  const out: Check[] = [
    {
      name: 'responses received',
      limit: '≥ 1',
      observed: count(report.requests.responses),
      passed: report.requests.responses > 0,
    },
    {
      name: 'run not stopped',
      limit: 'not stopped',
      observed: report.stopped ? 'stopped' : 'ran to the end',
      passed: !report.stopped,
    },
    {
      name: 'every planned request sent',
      limit: '0 not sent',
      observed: `${count(report.requests.notSent)} not sent`,
      passed: !failed.has('allRequestsSent'),
    },
    {
      name: 'failed workers',
      limit: `≤ ${count(limits.maxFailedWorkers ?? 0)}`,
      observed: count(report.workers.failed),
      passed: report.workers.failed <= (limits.maxFailedWorkers ?? 0),
    },
  ];
  for (const key of ['p95Ms', 'p99Ms', 'maxErrorRate', 'minThroughputRps'] as const) {
    const limit = limits[key];
    if (limit === undefined) continue;
    const [name, relation] = LABELS[key];
    const observed = failed.get(key)?.actual ?? observedValue(report, key);
    out.push({
      name,
      limit: `${relation} ${thresholdValue(key, limit, 'limit')}`,
      observed: observed === null ? 'n/a' : thresholdValue(key, observed, 'observed'),
      passed: !failed.has(key),
    });
  }
  return out;
}

const verdictTable = (report: Report): string =>
  `<table class="checks">${head('check', 'limit', 'observed', 'result')}${checks(report)
    .map(
      (c) =>
        `<tr class="${c.passed ? 'pass' : 'fail'}"><th>${escapeHtml(c.name)}</th>${cell(c.limit)}${cell(c.observed)}<td class="result">${c.passed ? 'PASS' : 'FAIL'}</td></tr>`,
    )
    .join('')}</table>`;

const PERCENTILES = ['min', 'p50', 'p90', 'p95', 'p99', 'max', 'mean'] as const;

function latencyTable(current: LatencySummaryMs | null, baseline: LatencySummaryMs | null | undefined): string {
  if (!current) return '<p>No request got a response: no latency.</p>';
  const withBaseline = baseline !== undefined;
  const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? 'n/a' : change(a / b));
  const figure = (value: number | undefined) => (value === undefined ? null : ms(value));
  return `<table>${head('', ...PERCENTILES.map((p) => `${p} (ms)`))}<tr><th>this run</th>${PERCENTILES.map((p) => cell(ms(current[p]))).join('')}</tr>${
    withBaseline
      ? `<tr><th>baseline</th>${PERCENTILES.map((p) => cell(figure(baseline?.[p]))).join('')}</tr><tr><th>change</th>${PERCENTILES.map((p) => cell(ratio(current[p], baseline?.[p]))).join('')}</tr>`
      : ''
  }</table>`;
}

/** Percentiles 0 .. 99.999 at even steps of log10(1 / (1 - p)): the tail gets as much room as the body. */
function spectrum(encoded: string | null | undefined): [number, number | null][] {
  if (!encoded) return [];
  const histogram = decodeHistogram(encoded);
  const points: [number, number | null][] = [];
  // No finer than one response: past log10(count) the spectrum only repeats the maximum.
  const maxX = Math.min(5, Math.max(1, Math.log10(histogram.totalCount)));
  for (let x = 0; x <= maxX + 1e-9; x += 0.05) {
    const percentile = 100 * (1 - 10 ** -x);
    points.push([x, Math.round(histogram.getValueAtPercentile(percentile)) / 1000]);
  }
  return points;
}

const SPECTRUM_TICKS: [number, string][] = [
  [0, '0 %'],
  [1, '90 %'],
  [2, '99 %'],
  [3, '99.9 %'],
  [4, '99.99 %'],
  [5, '99.999 %'],
];

function distributionChart(report: Report, baseline: Report | undefined): string {
  const current = spectrum(report.histograms?.total);
  if (current.length === 0) return '<p>No latency distribution: no response, or a report without histograms.</p>';
  const previous = spectrum(baseline?.histograms?.total);
  const maxX = Math.max(...current.map(([x]) => x), ...previous.map(([x]) => x));
  const series: Series[] = [{ name: 'this run', color: '#1f5fbf', points: current }];
  if (previous.length > 0) series.push({ name: 'baseline', color: '#888', points: previous, dashed: true });
  return lineChart({
    title: 'Latency distribution: the latency at each percentile (log scale of the tail)',
    xLabel: 'percentile',
    yLabel: 'latency (ms)',
    series,
    xAxis: { position: (x) => x / maxX, ticks: SPECTRUM_TICKS.filter(([x]) => x <= maxX + 1e-9) },
  });
}

function timelineCharts(report: Report): string {
  const t = report.timeline;
  if (t.length === 0) return '<p>No timeline: nothing settled.</p>';
  const interval = report.timelineIntervalSeconds ?? 1;
  const at = (second: number) => second + interval / 2;
  const unit = interval === 1 ? 'per second' : `per second, averaged over ${interval} s intervals`;
  // The last interval is only covered up to the last outcome: dividing by the whole interval would show a drop that never happened.
  const end = report.timelineEndSecond ?? null;
  const width = (second: number) =>
    end !== null && end > second && end < second + interval ? Math.max(end - second, interval / 10) : interval;
  const rate = (n: number, second: number) => Math.round((n / width(second)) * 100) / 100;
  const hasPercentiles = t.some((p) => p.p50 !== null && p.p50 !== undefined);
  const latency = hasPercentiles
    ? lineChart({
        title: `Latency percentiles over time (${interval} s intervals, exact from the merged histograms)`,
        xLabel: 'seconds since the start barrier',
        yLabel: 'latency (ms)',
        series: [
          { name: 'p50', color: '#2a9d5c', points: t.map((p) => [at(p.second), p.p50 ?? null]) },
          { name: 'p95', color: '#e08a00', points: t.map((p) => [at(p.second), p.p95 ?? null]) },
          { name: 'p99', color: '#c22', points: t.map((p) => [at(p.second), p.p99 ?? null]) },
        ],
      })
    : '<p>This report has no per-interval latencies (written by an older version).</p>';
  const throughput = lineChart({
    title: `Throughput and failures over time (${unit})`,
    xLabel: 'seconds since the start barrier',
    yLabel: 'requests per second',
    series: [
      { name: 'responses/s', color: '#1f5fbf', points: t.map((p) => [at(p.second), rate(p.responses ?? 0, p.second)]) },
      {
        name: 'attempted/s',
        color: '#7aa6e6',
        points: t.map((p) => [at(p.second), rate(p.requests, p.second)]),
        dashed: true,
      },
      { name: 'failed/s', color: '#c22', points: t.map((p) => [at(p.second), rate(p.failed, p.second)]) },
    ],
  });
  const users = lineChart({
    title: 'Active users over time (first request to last outcome)',
    xLabel: 'seconds since the start barrier',
    yLabel: 'users',
    series: [{ name: 'active users', color: '#6a3fb5', points: t.map((p) => [at(p.second), p.activeUsers ?? 0]) }],
  });
  return `${latency}${throughput}${users}`;
}

const counts = (entries: Record<string, number>, label: string): string => {
  const list = Object.entries(entries).sort(([a], [b]) => a.localeCompare(b));
  return `<table>${head(label, 'count')}${list.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th>${cell(count(v))}</tr>`).join('') || '<tr><td colspan="2">none</td></tr>'}</table>`;
};

function byNameTable(report: Report, baseline: Report | undefined): string {
  const names = Object.entries(report.byName);
  const rows = names
    .map(([name, x]) => {
      const rate = x.requests.total > 0 ? percent(x.requests.failed / x.requests.total) : 'n/a';
      const before = baseline?.byName[name]?.latencyMs;
      const withBase = (v: number | undefined, b: number | undefined) =>
        v === undefined ? null : baseline && b !== undefined ? `${ms(v)} (was ${ms(b)})` : ms(v);
      return `<tr><th>${escapeHtml(name)}</th>${[
        count(x.requests.total),
        count(x.requests.ok),
        count(x.requests.failed),
        rate,
        withBase(x.latencyMs?.p50, before?.p50),
        withBase(x.latencyMs?.p95, before?.p95),
        withBase(x.latencyMs?.p99, before?.p99),
        withBase(x.latencyMs?.max, undefined),
      ]
        .map(cell)
        .join('')}</tr>`;
    })
    .join('');
  return `<table>${head('request', 'attempted', 'ok', 'failed', 'error rate', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms')}${rows}</table>`;
}

function settings(report: Report): string {
  const w = report.workers;
  return `<table>${[
    row('run', report.runId),
    row('target', report.target),
    row('model', report.load.model),
    row('load per user', describeLoad(report.load)),
    row('users', count(report.users)),
    row('requests attempted', count(report.requests.total)),
    row('started', report.startedAt),
    row('finished', report.finishedAt),
    row('duration (s)', seconds(report.durationSeconds)),
    row('throughput (responses/s)', perSecond(report.throughputRps)),
    row('attempted (requests/s)', perSecond(report.attemptedRps)),
    row('users starting > 1 s late', count(w.lateStarts)),
    row('token refreshes', count(w.tokenRefreshes)),
    row('token refresh failures', count(w.tokenRefreshFailures)),
    row('workers planned', count(w.expected)),
    row('workers failed', count(w.failed)),
    row('users reported', count(w.usersReported)),
    row('users counted from errors', count(w.usersCountedFromErrors)),
    row('users unknown', count(w.usersUnknown)),
    report.stopped ? row('STOPPED', `${report.stopped.stoppedAt}: ${report.stopped.reason}`) : '',
  ].join('')}</table>`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em auto;max-width:1140px;color:#222;padding:0 1em}
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:2px solid #eee;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0}th,td{padding:.25em .8em;border-bottom:1px solid #e4e4e4;text-align:left}
td{font-variant-numeric:tabular-nums}.PASSED{color:#1d7f45}.FAILED{color:#c22}
.checks tr.fail{background:#fde8e8}.checks tr.pass .result{color:#1d7f45;font-weight:600}.checks tr.fail .result{color:#c22;font-weight:700}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}.cols{display:flex;gap:3em;flex-wrap:wrap}
.cause{font-size:15px}`;

/**
 * report.html: standalone (no script, no external asset), what a performance engineer reads first. With
 * a baseline, its percentiles stand beside this run's.
 */
export function renderHtml(report: Report, options: { baseline?: Report } = {}): string {
  const { baseline } = options;
  const verdict = report.verdict.passed ? 'PASSED' : 'FAILED';
  const l = report.latencyMs;
  const service = report.serviceTimeMs
    ? `<h3>Service time, from the actual send</h3>${latencyTable(report.serviceTimeMs, baseline ? baseline.serviceTimeMs : undefined)}`
    : '';
  const failedWorkers = report.workers.failures
    .map((f) => `<li>${escapeHtml(`users ${f.firstUser}..${f.lastUser}: ${f.error}: ${f.message}`)}</li>`)
    .join('');
  const r = report.requests;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>apiloadtest ${escapeHtml(report.runId)}: ${verdict}</title>
<style>${STYLE}</style>
</head><body>
<h1>apiloadtest report <span class="${verdict}">${verdict}</span></h1>
<p class="cause">${escapeHtml(report.verdict.cause)}</p>
<p>${escapeHtml(`${count(report.users)} users, ${describeLoad(report.load)}, against ${report.target}; ${count(r.total)} requests in ${seconds(report.durationSeconds)} s, ${perSecond(report.throughputRps)} responses/s, p95 ${l ? ms(l.p95) : 'n/a'} ms.`)}${baseline ? escapeHtml(` Baseline: run ${baseline.runId} of ${baseline.startedAt}.`) : ''}</p>
<h2>Verdict</h2>${verdictTable(report)}
<h2>Latency (ms)${report.serviceTimeMs ? ", from each request's intended start" : ''}</h2>${latencyTable(l, baseline ? baseline.latencyMs : undefined)}${service}
<h3>Login (Cognito authentication per user, before the start; not in the API latency)</h3>${latencyTable(report.loginLatencyMs ?? null, baseline ? (baseline.loginLatencyMs ?? null) : undefined)}
<h2>Over time</h2>${timelineCharts(report)}
<h2>Latency distribution</h2>${distributionChart(report, baseline)}
<h2>By request name</h2>${byNameTable(report, baseline)}
<h2>Requests and failures</h2>
<div class="cols"><table>${row('attempted', count(r.total))}${row('responses', count(r.responses))}${row('ok (2xx, 3xx)', count(r.ok))}${row('failed', count(r.failed))}${row('failed with a status', count(r.httpFailed))}${row('failed with no response', count(r.transportFailed))}${row('not sent (time limit or stop)', count(r.notSent))}${row('dropped (no free slot in time)', count(r.dropped))}</table>
<div><h3>Status codes</h3>${counts(report.statusCodes, 'status')}</div><div><h3>Transport errors (no response)</h3>${counts(report.errors, 'error')}</div></div>
<h2>Run settings</h2>${settings(report)}${failedWorkers ? `<h3>Failed workers</h3><ul>${failedWorkers}</ul>` : ''}
</body></html>
`;
}
