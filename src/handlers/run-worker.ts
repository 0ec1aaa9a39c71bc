import { lazyRuntime, type Runtime } from '../lib/deps';
import { runWorker, type WorkerTask } from '../lib/worker';

/** The part of Lambda's context object the worker uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

export const makeHandler = (runtime: () => Runtime) => async (event: WorkerTask, context?: InvocationContext) => {
  const { config, clients, pool, results } = runtime();
  return runWorker(event, {
    pool,
    secrets: clients.secrets,
    results,
    secretPrefix: config.secretPrefix,
    target: config.targetUrl,
    endsAt: context ? Date.now() + context.getRemainingTimeInMillis() : undefined,
  });
};

export const handler = makeHandler(lazyRuntime());
