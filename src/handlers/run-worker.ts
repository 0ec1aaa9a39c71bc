import { lazyRuntime, type Runtime } from '../lib/deps';
import { log } from '../lib/log';
import { runWorker, type WorkerTask } from '../lib/worker';
import { type FailedWorkerTask, isFailedWorkerTask, recordWorkerFailure } from '../lib/worker-failure';

/** The part of Lambda's context object the worker uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/**
 * Runs a worker, or, when the state machine's Catch sends a failed worker's error, records that failure
 * for Aggregate (the same function, so no other role may write into a run's results).
 */
export const makeHandler =
  (runtime: () => Runtime) => async (event: WorkerTask | FailedWorkerTask, context?: InvocationContext) => {
    const { config, clients, pool, results } = runtime();
    if (isFailedWorkerTask(event)) {
      const recorded = await recordWorkerFailure(event, { results });
      log('warn', 'worker failure recorded', {
        runId: event.failedWorker.runId,
        firstUser: recorded.firstUser,
        error: event.failedWorker.error.Error ?? null,
      });
      return recorded;
    }
    const result = await runWorker(event, {
      pool,
      secrets: clients.secrets,
      results,
      secretPrefix: config.secretPrefix,
      stackName: config.stackName,
      usernamePrefix: config.usernamePrefix,
      target: config.targetUrl,
      endsAt: context ? Date.now() + context.getRemainingTimeInMillis() : undefined,
    });
    log('info', 'worker finished', { runId: event.settings.runId, ...result });
    return result;
  };

export const handler = makeHandler(lazyRuntime());
