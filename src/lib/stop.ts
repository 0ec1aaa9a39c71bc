import { getJson, putJson, type ResultsStore, stopKey } from './aws/results';
import { errorName } from './errors';

/**
 * The stop switch: an object in the run's results prefix. Step Functions' StopExecution cannot stop
 * Lambdas already running, so workers poll for this marker and stop starting requests when it appears;
 * the run then ends as usual, with a report of what was sent.
 */
export interface StopMarker {
  readonly stoppedAt: string;
  readonly reason: string;
}

export async function raiseStop(results: ResultsStore, runId: string, reason: string): Promise<void> {
  await putJson(results, stopKey(runId), { stoppedAt: new Date().toISOString(), reason } satisfies StopMarker);
}

/**
 * The marker, or undefined when there is none. Without s3:ListBucket S3 answers a missing object with
 * AccessDenied rather than NoSuchKey, so both mean "not stopped" (the worker may only read this one key).
 */
export async function readStop(results: ResultsStore, runId: string): Promise<StopMarker | undefined> {
  try {
    return (await getJson<StopMarker>(results, stopKey(runId))) ?? undefined;
  } catch (error) {
    if (['NoSuchKey', 'NotFound', 'AccessDenied', 'Forbidden'].includes(errorName(error))) return undefined;
    throw error;
  }
}

/** Polls every `pollMs` (1 s: workers stop within 2 s of the marker); a failed poll is tried again at the next tick. */
export function watchStop(
  results: ResultsStore,
  runId: string,
  pollMs = 1_000,
): { stopped: () => boolean; close: () => void } {
  let stopped = false;
  let polling = false;
  const timer = setInterval(() => {
    if (stopped || polling) return;
    polling = true;
    readStop(results, runId)
      .then((marker) => {
        if (marker) stopped = true;
      })
      .catch(() => undefined)
      .finally(() => {
        polling = false;
      });
  }, pollMs);
  return {
    stopped: () => stopped,
    close: () => clearInterval(timer),
  };
}
