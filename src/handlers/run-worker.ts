import { lazyRuntime, type Runtime } from '../lib/deps';
import { runWorker, type WorkerTask } from '../lib/worker';

export const makeHandler = (runtime: () => Runtime) => async (event: WorkerTask) => {
  const { config, clients, pool, results } = runtime();
  return runWorker(event, {
    pool,
    secrets: clients.secrets,
    results,
    secretPrefix: config.secretPrefix,
    target: config.targetUrl,
  });
};

export const handler = makeHandler(lazyRuntime());
