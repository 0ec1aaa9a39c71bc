import { decodeHistogram } from '../load/histogram';
import { change, givenPercent, ms, percent, points, rate, signed } from './numbers';
import type { Report } from './report';

/** One figure of one request (or the total), in both runs. */
export interface Comparison {
  /** A request name, or `(total)`. */
  readonly request: string;
  readonly metric: 'p50 ms' | 'p95 ms' | 'p99 ms' | 'error rate' | 'throughput rps';
  readonly baseline: number | null;
  readonly current: number | null;
  /** current - baseline; null when either is missing. */
  readonly delta: number | null;
  /** current / baseline; null when either is missing or the baseline is 0. */
  readonly ratio: number | null;
  readonly regression: boolean;
}

export const TOTAL = '(total)';

/**
 * Error rates this close are the same: one more failure in a million requests is not a regression
 * whatever the relative change.
 */
const ERROR_RATE_NOISE = 0.0001;

interface Figures {
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly errorRate: number | null;
  readonly throughput: number;
}

/** Percentiles from the merged histogram when the report carries it (any percentile), else its summary. */
function figuresOf(report: Report, name: string | undefined): Figures | undefined {
  const part = name === undefined ? report : report.byName[name];
  if (!part) return undefined;
  const encoded = name === undefined ? report.histograms?.total : report.histograms?.byName[name];
  const summary = part.latencyMs;
  const at = (p: 50 | 95 | 99): number | null => {
    if (!encoded || !summary) return summary?.[`p${p}`] ?? null;
    // Clamped to the exact [min, max] as the report's own percentiles are (latencySummary): the same
    // run's p95 reads the same in the report and in the comparison.
    const value = Math.round(decodeHistogram(encoded).getValueAtPercentile(p)) / 1000;
    return Math.min(summary.max, Math.max(summary.min, value));
  };
  const { total, failed, responses } = part.requests;
  return {
    p50: at(50),
    p95: at(95),
    p99: at(99),
    errorRate: total > 0 ? failed / total : null,
    throughput: report.durationSeconds > 0 ? Math.round((responses / report.durationSeconds) * 100) / 100 : 0,
  };
}

/**
 * Compares `current` with `baseline` for the total and every request name either has. A regression:
 * a latency percentile up by more than `maxRegression` (0.1 = 10 %), the error rate up by more than
 * that ratio (and by more than 0.01 percentage points), or throughput down by more than that ratio.
 */
export function compareReports(current: Report, baseline: Report, maxRegression: number): Comparison[] {
  const names = [...new Set([...Object.keys(current.byName), ...Object.keys(baseline.byName)])].sort();
  const out: Comparison[] = [];
  const push = (request: string, metric: Comparison['metric'], b: number | null, c: number | null, worse: boolean) => {
    const delta = b === null || c === null ? null : round(c - b);
    const ratio = b === null || c === null || b === 0 ? null : round(c / b, 4);
    out.push({ request, metric, baseline: b, current: c, delta, ratio, regression: worse });
  };
  const compare = (request: string, name: string | undefined) => {
    const b = figuresOf(baseline, name);
    const c = figuresOf(current, name);
    for (const p of ['p50', 'p95', 'p99'] as const) {
      const was = b?.[p] ?? null;
      const now = c?.[p] ?? null;
      push(request, `${p} ms`, was, now, was !== null && now !== null && now > was * (1 + maxRegression));
    }
    const was = b?.errorRate ?? null;
    const now = c?.errorRate ?? null;
    push(
      request,
      'error rate',
      was === null ? null : round(was, 6),
      now === null ? null : round(now, 6),
      was !== null && now !== null && now - was > ERROR_RATE_NOISE && now > was * (1 + maxRegression),
    );
    const before = b?.throughput ?? null;
    const after = c?.throughput ?? null;
    push(
      request,
      'throughput rps',
      before,
      after,
      before !== null && after !== null && after < before * (1 - maxRegression),
    );
  };
  compare(TOTAL, undefined);
  for (const name of names) compare(name, name);
  return out;
}

const round = (value: number, digits = 3): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

type Format = (value: number) => string;
/** Each metric's figure, and its difference: an error rate's is in percentage points, not a percent of it. */
const FORMATS: Record<Comparison['metric'], readonly [Format, Format]> = {
  'p50 ms': [ms, ms],
  'p95 ms': [ms, ms],
  'p99 ms': [ms, ms],
  'error rate': [percent, points],
  'throughput rps': [rate, rate],
};

/** The comparison as a fixed-width table for the terminal. */
export function formatComparison(rows: readonly Comparison[], maxRegression: number): string {
  const header = ['request', 'metric', 'baseline', 'this run', 'delta', 'change', ''];
  const lines = rows.map((r) => {
    const [figure, difference] = FORMATS[r.metric];
    const text = (v: number | null) => (v === null ? 'n/a' : figure(v));
    return [
      r.request,
      r.metric,
      text(r.baseline),
      text(r.current),
      r.delta === null ? 'n/a' : signed(r.delta, difference),
      r.ratio === null ? 'n/a' : change(r.ratio),
      r.regression ? 'REGRESSION' : '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const regressions = rows.filter((r) => r.regression).length;
  return [
    format(header),
    ...lines.map(format),
    '',
    regressions === 0
      ? `no regression beyond ${givenPercent(maxRegression)}`
      : `${regressions} regression(s) beyond ${givenPercent(maxRegression)}`,
  ].join('\n');
}
