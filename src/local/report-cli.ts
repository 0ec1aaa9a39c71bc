import { writeFileSync } from 'node:fs';
import { renderHtml } from '../lib/report/html';
import type { Report } from '../lib/report/report';
import { type Baseline, compareWithBaseline, readBaseline, readReport } from './baseline';
import { formatReport } from './format';
import { EXIT, UsageError } from './usage';

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
  /** Read and judged while the flags are. */
  readonly baseline?: Baseline;
  readonly help: boolean;
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
  if (help) return { report: '', help };
  if (report === undefined) throw new UsageError('which report? npm run report -- report.json');
  return {
    report,
    html: flags.get('--html'),
    baseline: readBaseline(flags.get('--baseline'), flags.get('--max-regression')),
    help,
  };
}

export function main(argv: readonly string[], out: (text: string) => void = console.log): number {
  let options: ReportOptions;
  let report: Report;
  try {
    options = parseReportCli(argv);
    if (options.help) {
      out(HELP);
      return EXIT.ok;
    }
    report = readReport(options.report);
    out(formatReport(report));
    if (options.html) writeFileSync(options.html, renderHtml(report, { baseline: options.baseline?.report }));
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return EXIT.error;
  }
  if (!options.baseline) return EXIT.ok;
  const comparison = compareWithBaseline(report, options.baseline);
  out('');
  out(comparison.text);
  return comparison.regressions > 0 ? EXIT.verdictFailed : EXIT.ok;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
