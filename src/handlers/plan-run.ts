import { lazyRuntime, type Runtime } from '../lib/deps';
import { type PrepareEvent, prepareRun } from '../lib/prepare';

/** The part of Lambda's context the Plan uses: its own ARN names the region the estimate prices. */
interface PlanContext {
  readonly invokedFunctionArn?: string;
}

export const makeHandler = (runtime: () => Runtime) => async (event: PrepareEvent, context?: PlanContext) => {
  const { config, clients, results } = runtime();
  const region = context?.invokedFunctionArn?.split(':')[3] || 'us-east-1';
  return prepareRun(event, {
    kms: clients.kms,
    keyAlias: config.keyAlias,
    stackName: config.stackName,
    accountRootArn: config.accountRootArn,
    keyRetirerRoleArns: config.keyRetirerRoleArns,
    maxConcurrentWorkers: config.maxConcurrentWorkers,
    results,
    estimate: { region, cognitoWriteRps: config.cognitoWriteRps },
  });
};

export const handler = makeHandler(lazyRuntime());
