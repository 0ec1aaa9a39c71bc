import { readFileSync, writeFileSync } from 'node:fs';
import { compareReports, formatComparison } from '../lib/report/compare';
import { renderHtml } from '../lib/report/html';
import type { Report } from '../lib/report/report';
import { EXIT, UsageError } from './cli';
import { formatReport } from './format';

const HELP = `apiloadtest report — re-render a report.json, and compare it with a baseline

Usage: npm run report -- report.json [--html out.html] [--baseline old.json] [--max-regression 10%]

  report.json             a run's report: from the results bucket, or a saved npm run local --json
  --html FILE             write report.html (with the baseline's percentiles beside this run's)
  --baseline FILE         an earlier run's report.json to compare with, per request name and in total
  --max-regression X      allowed change before it is a regression: 10% or 0.1 (default 10%):
                          p50/p95/p99 up by more than X, error rate up by more than X (and by more
                          than 0.01 percentage points), throughput down by more than X
  -h, --help              this text

Exit status: 0 no regression (or no baseline), 1 a regression beyond the limit, 2 bad input.`;

export interface ReportOptions {
  readonly report: string;
  readonly html?: string;
  readonly baseline?: string;
  readonly maxRegression: number;
  readonly help: boolean;
}

export function parseRatio(text: string): number {
  const percent = text.trim().endsWith('%');
  const value = Number(percent ? text.trim().slice(0, -1) : text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new UsageError(`--max-regression: must be a percentage like 10% or a ratio like 0.1, got "${text}"`);
  return percent ? value / 100 : value;
}

export function parseReportCli(argv: readonly string[]): ReportOptions {
  let report: string | undefined;
  const flags = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--html' || arg === '--baseline' || arg === '--max-regression') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg}: needs a value`);
      if (flags.has(arg)) throw new UsageError(`${arg}: is given more than once`);
      flags.set(arg, value);
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (report === undefined) report = arg;
    else throw new UsageError(`one report at a time, got "${report}" and "${arg}"`);
  }
  if (!help && report === undefined) throw new UsageError('which report? npm run report -- report.json');
  return {
    report: report ?? '',
    html: flags.get('--html'),
    baseline: flags.get('--baseline'),
    maxRegression: parseRatio(flags.get('--max-regression') ?? '10%'),
    help,
  };
}

/** Reads a report.json: a bare report, or an execution output / npm run local --json that holds one. */
export function readReport(path: string): Report {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path}: not a readable JSON file (${(error as Error).message})`);
  }
  const candidate = (parsed as { report?: unknown })?.report ?? parsed;
  const report = candidate as Partial<Report>;
  if (!report || typeof report !== 'object' || !report.requests || !report.verdict || !report.byName)
    throw new UsageError(`${path}: not an apiloadtest report (no requests, verdict or byName)`);
  return { ...report, timeline: report.timeline ?? [] } as Report;
}

export function main(argv: readonly string[], out: (text: string) => void = console.log): number {
  let options: ReportOptions;
  let report: Report;
  let baseline: Report | undefined;
  try {
    options = parseReportCli(argv);
    if (options.help) {
      out(HELP);
      return EXIT.ok;
    }
    report = readReport(options.report);
    baseline = options.baseline === undefined ? undefined : readReport(options.baseline);
    out(formatReport(report));
    if (options.html) writeFileSync(options.html, renderHtml(report, { baseline }));
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return EXIT.error;
  }
  if (!baseline) return EXIT.ok;
  const rows = compareReports(report, baseline, options.maxRegression);
  out('');
  out(`compared with ${baseline.runId} (${baseline.startedAt})`);
  out(formatComparison(rows, options.maxRegression));
  return rows.some((r) => r.regression) ? EXIT.verdictFailed : EXIT.ok;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
