import pLimit from 'p-limit';
import { getJson, listKeys, putJson, putObject, type ResultsStore, reportKeys, userSummaryPrefix } from './aws/results';
import { AppError } from './errors';
import type { Thresholds } from './input';
import type { WorkerSummary } from './load/summary';
import { renderHtml } from './report/html';
import { headline, mergeSummaries, type Report } from './report/report';
import { type RetryOptions, withRetry } from './retry';

export interface AggregateTask {
  readonly runId: string;
  readonly users: number;
  readonly callsPerUser: number;
  readonly thresholds: Thresholds;
}

export interface AggregateDeps {
  readonly results: ResultsStore;
  readonly target: URL;
  readonly retry?: RetryOptions;
}

export interface AggregateResult {
  readonly report: Omit<Report, 'timeline'>;
  readonly reportKey: string;
  readonly htmlKey: string;
  /** One line for a Fail state's Cause when thresholds fail. */
  readonly verdict: string;
}

const READ_PARALLELISM = 32;

export async function aggregateRun(task: AggregateTask, deps: AggregateDeps): Promise<AggregateResult> {
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);
  const prefix = userSummaryPrefix(task.runId);
  const keys = await retry(() => listKeys(deps.results, prefix));
  const limit = pLimit(READ_PARALLELISM);
  const summaries = await Promise.all(
    keys.map((key) => limit(() => retry(() => getJson<WorkerSummary>(deps.results, key)))),
  );
  // Every user's requests must be in the report: a missing summary is an error, not a smaller total.
  if (summaries.length !== task.users) {
    throw new AppError(
      'ResultsIncomplete',
      `expected ${task.users} user summaries under ${prefix}, found ${summaries.length}`,
    );
  }
  const report = mergeSummaries(
    {
      runId: task.runId,
      target: deps.target.href,
      users: task.users,
      callsPerUser: task.callsPerUser,
      thresholds: task.thresholds,
    },
    summaries,
  );
  const { json: reportKey, html: htmlKey } = reportKeys(task.runId);
  await retry(() => putJson(deps.results, reportKey, report));
  await retry(() => putObject(deps.results, htmlKey, renderHtml(report), 'text/html; charset=utf-8'));
  return { report: headline(report), reportKey, htmlKey, verdict: verdictLine(report) };
}

export function verdictLine(report: Pick<Report, 'thresholds' | 'requests'>): string {
  if (report.thresholds.passed) return `passed: ${report.requests.total} requests, ${report.requests.failed} failed`;
  return `thresholds failed: ${report.thresholds.failures.map((f) => f.message).join('; ')}`;
}
