import { putJson, type ResultsStore, workerFailureKey } from './aws/results';
import { AppError, type ErrorName } from './errors';
import type { CountsOnly } from './load/summary';
import type { WorkerFailureRecord } from './report/report';
import { type RetryOptions, withRetry } from './retry';

/**
 * A worker whose users did not all finish. Step Functions carries only an error's name and message, so
 * the counts of users whose summary could not be written travel in the message, after COUNTS_MARK, and
 * the failure recorder reads them back: what those users sent stays in the report.
 */
const COUNTS_MARK = ' | counts: ';

/** One user of a worker that did not end normally. */
export interface UserFailure {
  readonly userIndex: number;
  readonly error: ErrorName | string;
  readonly message: string;
  /** What the user did send, when only its summary write failed. */
  readonly counts?: CountsOnly;
}

export function workerFailedError(failures: readonly UserFailure[]): AppError {
  const first = failures[0];
  const name = (first?.error ?? 'WorkerFailed') as ErrorName;
  const text = failures.map((f) => `user ${f.userIndex}: ${f.error}: ${f.message}`).join('; ');
  const counts = Object.fromEntries(failures.filter((f) => f.counts).map((f) => [f.userIndex, f.counts]));
  const suffix = Object.keys(counts).length > 0 ? `${COUNTS_MARK}${JSON.stringify(counts)}` : '';
  return new AppError(name, `${text}${suffix}`);
}

/** What the state machine hands the recorder when a worker's Task failed (its Catch output). */
export interface FailedWorkerTask {
  readonly failedWorker: {
    readonly runId: string;
    readonly firstUser: number;
    readonly lastUser: number;
    readonly usersPerWorker: number;
    /** The Catch's error object: `Error` and (usually) `Cause`, Lambda's JSON for function errors. */
    readonly error: { readonly Error?: string; readonly Cause?: string };
  };
}

export const isFailedWorkerTask = (event: unknown): event is FailedWorkerTask =>
  typeof event === 'object' && event !== null && 'failedWorker' in event;

const MAX_MESSAGE = 1_000;

/** Reads a Catch's error into a failure record: name, readable message, and any counts it carries. */
export function failureRecord(task: FailedWorkerTask['failedWorker']): WorkerFailureRecord {
  const cause = task.error.Cause ?? '';
  let message = cause;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // not Lambda's JSON (a Step Functions timeout, say): the cause is the message
  }
  let counts: Record<string, CountsOnly> = {};
  const mark = message.indexOf(COUNTS_MARK);
  if (mark >= 0) {
    try {
      counts = JSON.parse(message.slice(mark + COUNTS_MARK.length)) as Record<string, CountsOnly>;
    } catch {
      counts = {};
    }
    message = message.slice(0, mark);
  }
  return {
    firstUser: task.firstUser,
    lastUser: Math.min(task.lastUser, task.firstUser + task.usersPerWorker - 1),
    error: task.error.Error ?? 'Unknown',
    message: (message || 'no cause given').slice(0, MAX_MESSAGE),
    counts,
  };
}

/** Writes the failure where Aggregate finds it; Aggregate treats users with nothing at all as unknown. */
export async function recordWorkerFailure(
  task: FailedWorkerTask,
  deps: { results: ResultsStore; retry?: RetryOptions },
): Promise<{ firstUser: number; recorded: true }> {
  const record = failureRecord(task.failedWorker);
  await withRetry(
    () => putJson(deps.results, workerFailureKey(task.failedWorker.runId, record.firstUser), record),
    deps.retry,
  );
  return { firstUser: record.firstUser, recorded: true };
}
