import { lazyRuntime, type Runtime } from '../lib/deps';
import { log } from '../lib/log';
import { runWorker, type WorkerTask } from '../lib/worker';

/** The part of Lambda's context object the worker uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export const makeHandler = (runtime: () => Runtime) => async (event: WorkerTask, context?: InvocationContext) => {
  const { config, clients, pool, results } = runtime();
  const result = await runWorker(event, {
    pool,
    secrets: clients.secrets,
    results,
    secretPrefix: config.secretPrefix,
    target: config.targetUrl,
    endsAt: context ? Date.now() + context.getRemainingTimeInMillis() : undefined,
  });
  log('info', 'worker finished', { runId: event.settings.runId, ...result });
  return result;
};

export const handler = makeHandler(lazyRuntime());
