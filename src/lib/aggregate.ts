import pLimit from 'p-limit';
import {
  getJson,
  listKeys,
  putJson,
  putObject,
  type ResultsStore,
  reportKeys,
  userSummaryPrefix,
  workerFailurePrefix,
} from './aws/results';
import type { Thresholds } from './input';
import type { LoadModel } from './load/model';
import type { WorkerSummary } from './load/summary';
import type { Range } from './plan';
import { renderHtml } from './report/html';
import { renderJunit } from './report/junit';
import { type Headline, headline, mergeSummaries, type Verdict, type WorkerFailureRecord } from './report/report';
import { type RetryOptions, withRetry } from './retry';
import { readStop } from './stop';

export interface AggregateTask {
  readonly runId: string;
  readonly users: number;
  readonly load: LoadModel;
  readonly thresholds: Thresholds;
  /** The plan's fan-out layout, to tell which worker ran which user. */
  readonly groups: readonly Range[];
  readonly usersPerWorker: number;
  readonly workers: number;
}

export interface AggregateDeps {
  readonly results: ResultsStore;
  readonly target: URL;
  readonly retry?: RetryOptions;
}

export interface AggregateResult {
  readonly report: Headline;
  readonly reportKey: string;
  readonly htmlKey: string;
  /** The Verdict state fails the execution with `verdict.error` and `verdict.cause` unless it passed. */
  readonly verdict: Verdict;
}

const READ_PARALLELISM = 32;

/** The worker that ran `userIndex`: groups split into workers of usersPerWorker from the group's first user. */
export function workerLayout(task: Pick<AggregateTask, 'groups' | 'usersPerWorker'>) {
  return (userIndex: number): { firstUser: number; lastUser: number } => {
    const group = task.groups.find((g) => g.from <= userIndex && userIndex <= g.to) ?? { from: 0, to: userIndex };
    const firstUser = group.from + Math.floor((userIndex - group.from) / task.usersPerWorker) * task.usersPerWorker;
    return { firstUser, lastUser: Math.min(group.to, firstUser + task.usersPerWorker - 1) };
  };
}

/**
 * Runs once fan-out has ended, whatever happened in it: every summary and every failed worker's record
 * goes into one report, which is written before the verdict can fail the execution.
 */
export async function aggregateRun(task: AggregateTask, deps: AggregateDeps): Promise<AggregateResult> {
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);
  const limit = pLimit(READ_PARALLELISM);
  const readAll = async <T>(prefix: string): Promise<T[]> => {
    const keys = await retry(() => listKeys(deps.results, prefix));
    return Promise.all(keys.map((key) => limit(() => retry(() => getJson<T>(deps.results, key)))));
  };
  const summaries = await readAll<WorkerSummary>(userSummaryPrefix(task.runId));
  const failures = await readAll<WorkerFailureRecord>(workerFailurePrefix(task.runId));
  const report = mergeSummaries(
    {
      runId: task.runId,
      target: deps.target.href,
      users: task.users,
      load: task.load,
      stopped: (await retry(() => readStop(deps.results, task.runId))) ?? null,
      thresholds: task.thresholds,
      workers: task.workers,
      workerOf: workerLayout(task),
    },
    summaries,
    failures,
  );
  const { json: reportKey, html: htmlKey, junit: junitKey } = reportKeys(task.runId);
  await retry(() => putJson(deps.results, reportKey, report));
  await retry(() => putObject(deps.results, htmlKey, renderHtml(report), 'text/html; charset=utf-8'));
  await retry(() => putObject(deps.results, junitKey, renderJunit(report, task.thresholds), 'application/xml'));
  return { report: headline(report), reportKey, htmlKey, verdict: report.verdict };
}
