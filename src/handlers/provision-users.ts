import { lazyRuntime, type Runtime } from '../lib/deps';
import { PROVISION_PARALLEL_SHARDS } from '../lib/plan';
import { provisionShard, type ShardTask } from '../lib/provision';

export const makeHandler = (runtime: () => Runtime) => async (event: ShardTask) => {
  const { config, clients, pool } = runtime();
  return provisionShard(event, {
    pool,
    secrets: clients.secrets,
    stackName: config.stackName,
    secretPrefix: config.secretPrefix,
    // The Map runs this many shards at once: together they stay under the account's quota.
    cognitoRps: config.cognitoWriteRps / PROVISION_PARALLEL_SHARDS,
  });
};

export const handler = makeHandler(lazyRuntime());
