import { lazyRuntime, type Runtime } from '../lib/deps';
import { log } from '../lib/log';
import { PROVISION_PARALLEL_SHARDS } from '../lib/plan';
import { provisionShard, type ShardTask } from '../lib/provision';

export const makeHandler = (runtime: () => Runtime) => async (event: ShardTask) => {
  const { config, clients, pool } = runtime();
  const result = await provisionShard(event, {
    pool,
    secrets: clients.secrets,
    stackName: config.stackName,
    usernamePrefix: config.usernamePrefix,
    secretPrefix: config.secretPrefix,
    // The Map runs this many shards at once: together they stay under the account's quota.
    cognitoRps: config.cognitoWriteRps / PROVISION_PARALLEL_SHARDS,
  });
  log('info', 'shard provisioned', { ...result });
  return result;
};

export const handler = makeHandler(lazyRuntime());
