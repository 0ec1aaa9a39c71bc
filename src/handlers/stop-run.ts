import { lazyRuntime, type Runtime } from '../lib/deps';
import { InvalidInputError } from '../lib/errors';
import { log } from '../lib/log';
import { raiseStop } from '../lib/stop';

/** What `npx sls invoke -f stopRun --data '{"runId":"…"}'` sends; runId is the execution name. */
export interface StopRunEvent {
  readonly runId: string;
  readonly reason?: string;
}

const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * The stop switch: every worker of the run stops starting requests at its next poll (within 2 s), and
 * the run ends as usual with a report marked stopped. StopExecution alone would leave Lambdas running.
 */
export const makeHandler = (runtime: () => Runtime) => async (event: StopRunEvent) => {
  const runId = (event as Partial<StopRunEvent> | null)?.runId;
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
    throw new InvalidInputError('runId', 'must be the run id (the execution name), e.g. {"runId":"my-run-1"}');
  }
  const reason =
    typeof event.reason === 'string' && event.reason.trim() ? event.reason.slice(0, 200) : 'stopped by stopRun';
  await raiseStop(runtime().results, runId, reason);
  log('warn', 'stop switch raised', { runId });
  return { runId, stopped: true };
};

export const handler = makeHandler(lazyRuntime());
