import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pLimit from 'p-limit';
import { createUser, setPermanentPassword, type UserPool } from './aws/cognito';
import { type Credentials, readCredentials, shardSecretName, writeCredentials } from './aws/secrets';
import { generatePassword } from './passwords';
import { type Shard, usernameOf } from './plan';
import { type RetryOptions, rateLimiter, withRetry } from './retry';

export interface ProvisionDeps {
  readonly pool: UserPool;
  readonly secrets: SecretsManagerClient;
  readonly stackName: string;
  readonly secretPrefix: string;
  /** Cognito calls per second this shard may make; the plan divides the account quota among shards. */
  readonly cognitoRps: number;
  readonly retry?: RetryOptions;
  readonly newPassword?: () => string;
}

export interface ShardTask extends Shard {
  readonly keyId: string;
}

export interface ProvisionResult {
  readonly shard: number;
  readonly created: number;
  readonly reused: number;
}

/** Parallel Cognito calls per shard; the rate limiter, not this, sets the pace. */
const SHARD_PARALLELISM = 8;

/**
 * Creates or reuses the shard's users. The shard's secret is written first, so a password that
 * reaches Cognito is never lost: a re-run reads it back and sets the same password again.
 */
export async function provisionShard(task: ShardTask, deps: ProvisionDeps): Promise<ProvisionResult> {
  const name = shardSecretName(deps.secretPrefix, task.shard);
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);
  const existing = (await retry(() => readCredentials(deps.secrets, name))) ?? {};
  const newPassword = deps.newPassword ?? generatePassword;

  const credentials: Credentials = {};
  for (let index = task.from; index <= task.to; index++) {
    const username = usernameOf(index);
    credentials[username] = existing[username] ?? newPassword();
  }
  const changed = Object.keys(credentials).some((username) => existing[username] !== credentials[username]);
  if (changed) {
    await retry(() =>
      writeCredentials(deps.secrets, {
        name,
        keyId: task.keyId,
        stackName: deps.stackName,
        credentials: { ...existing, ...credentials },
      }),
    );
  }

  const gate = rateLimiter(deps.cognitoRps);
  const paced = <T>(operation: () => Promise<T>) =>
    retry(async () => {
      await gate();
      return operation();
    });
  const limit = pLimit(SHARD_PARALLELISM);
  let created = 0;
  await Promise.all(
    Object.entries(credentials).map(([username, password]) =>
      limit(async () => {
        if (await paced(() => createUser(deps.pool, username))) created++;
        await paced(() => setPermanentPassword(deps.pool, username, password));
      }),
    ),
  );
  return { shard: task.shard, created, reused: task.to - task.from + 1 - created };
}
