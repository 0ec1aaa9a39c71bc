import { cleanupUserSet } from '../lib/cleanup';
import { lazyRuntime, type Runtime } from '../lib/deps';
import { parseCleanupInput } from '../lib/input';
import { log } from '../lib/log';

export const makeHandler = (runtime: () => Runtime) => async (event: unknown) => {
  const input = parseCleanupInput(event);
  const { config, clients, pool } = runtime();
  const result = await cleanupUserSet(input, {
    pool,
    secrets: clients.secrets,
    kms: clients.kms,
    secretPrefix: config.secretPrefix,
    keyAlias: config.keyAlias,
    stackName: config.stackName,
    usernamePrefix: config.usernamePrefix,
    cognitoRps: config.cognitoWriteRps,
  });
  log('info', 'test users deleted', {
    usersDeleted: result.usersDeleted,
    usersSkippedNotOurs: result.usersSkippedNotOurs,
    secretsDeleted: result.secretsDeleted,
    keyScheduled: result.key.scheduled,
    orphanKeysScheduled: result.orphanKeysScheduled,
  });
  return result;
};

export const handler = makeHandler(lazyRuntime());
