import { readFileSync } from 'node:fs';
import { compareReports, formatComparison } from '../lib/report/compare';
import type { Report } from '../lib/report/report';
import { UsageError } from './usage';

/** --baseline and --max-regression, as npm run local and npm run report both take them. */
export interface Baseline {
  readonly report: Report;
  readonly maxRegression: number;
}

export const DEFAULT_MAX_REGRESSION = '10%';

/** `10%` or `0.1` -> 0.1. */
export function parseRatio(text: string): number {
  const percent = text.trim().endsWith('%');
  const value = Number(percent ? text.trim().slice(0, -1) : text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new UsageError(`--max-regression: must be a percentage like 10% or a ratio like 0.1, got "${text}"`);
  return percent ? value / 100 : value;
}

/**
 * Reads a report.json: a bare report, or an execution output / npm run local --json that holds one.
 * `flag` names the option the file came from in the messages (a positional file names itself).
 */
export function readReport(path: string, flag?: string): Report {
  const where = flag ? `${flag}: "${path}"` : path;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${where}: not a readable JSON file (${(error as Error).message})`);
  }
  const candidate = (parsed as { report?: unknown })?.report ?? parsed;
  const report = candidate as Partial<Report>;
  if (!report || typeof report !== 'object' || !report.requests || !report.verdict || !report.byName)
    throw new UsageError(`${where}: not an apiloadtest report (no requests, verdict or byName)`);
  return { ...report, timeline: report.timeline ?? [] } as Report;
}

/** The baseline the flags name, read and judged now: a bad file fails before anything starts. */
export function readBaseline(file: string | undefined, maxRegression: string | undefined): Baseline | undefined {
  if (file === undefined) {
    if (maxRegression !== undefined) throw new UsageError('--max-regression: needs --baseline FILE to compare with');
    return undefined;
  }
  return { report: readReport(file, '--baseline'), maxRegression: parseRatio(maxRegression ?? DEFAULT_MAX_REGRESSION) };
}

/** The comparison table to print after the report, and whether any figure regressed past the limit. */
export function compareWithBaseline(report: Report, baseline: Baseline): { text: string; regressions: number } {
  const rows = compareReports(report, baseline.report, baseline.maxRegression);
  return {
    text: `compared with ${baseline.report.runId} (${baseline.report.startedAt})\n${formatComparison(rows, baseline.maxRegression)}`,
    regressions: rows.filter((r) => r.regression).length,
  };
}
