import { lazyRuntime, type Runtime } from '../lib/deps';
import { type PrepareEvent, prepareRun } from '../lib/prepare';

export const makeHandler = (runtime: () => Runtime) => async (event: PrepareEvent) => {
  const { config, clients, results } = runtime();
  return prepareRun(event, {
    kms: clients.kms,
    keyAlias: config.keyAlias,
    stackName: config.stackName,
    accountRootArn: config.accountRootArn,
    keyRetirerRoleArns: config.keyRetirerRoleArns,
    maxConcurrentWorkers: config.maxConcurrentWorkers,
    results,
  });
};

export const handler = makeHandler(lazyRuntime());
