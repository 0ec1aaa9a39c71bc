import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pLimit from 'p-limit';
import { createUser, setPermanentPassword, type UserPool } from './aws/cognito';
import { type Credentials, readShardSecret, shardSecretName, writeCredentials } from './aws/secrets';
import { generatePassword } from './passwords';
import { type Shard, usernameOf } from './plan';
import { type RetryOptions, rateLimiter, withRetry } from './retry';

export interface ProvisionDeps {
  readonly pool: UserPool;
  readonly secrets: SecretsManagerClient;
  readonly stackName: string;
  /** Test users' name prefix (config.ts); default `loadtestuser`. */
  readonly usernamePrefix?: string;
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
  /** Users this run created in Cognito. */
  readonly created: number;
  /** Users that already existed; `created + reused` is the shard's size. */
  readonly reused: number;
  /** Of the reused, those that were complete already and got no Cognito call at all. */
  readonly skipped: number;
}

/** Parallel Cognito calls per shard; the rate limiter, not this, sets the pace. */
const SHARD_PARALLELISM = 8;

/**
 * Creates or reuses the shard's users. The shard's secret is written first, so a password that
 * reaches Cognito is never lost: a re-run reads it back and sets the same password again. Once every
 * password is set, the secret marks those users `ready`; a later run makes no Cognito call for them,
 * which is what keeps a re-run of 10,000 users from spending minutes of Cognito's write quota.
 */
export async function provisionShard(task: ShardTask, deps: ProvisionDeps): Promise<ProvisionResult> {
  const name = shardSecretName(deps.secretPrefix, task.shard);
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);
  const existing = (await retry(() => readShardSecret(deps.secrets, name))) ?? { users: {}, ready: [] };
  const newPassword = deps.newPassword ?? generatePassword;

  const credentials: Credentials = {};
  for (let index = task.from; index <= task.to; index++) {
    const username = usernameOf(index, deps.usernamePrefix);
    credentials[username] = existing.users[username] ?? newPassword();
  }
  const users = { ...existing.users, ...credentials };
  // A stored password is never replaced, so a `ready` mark stays true for as long as its user exists.
  const ready = new Set(existing.ready.filter((username) => username in existing.users));
  const write = () =>
    retry(() =>
      writeCredentials(deps.secrets, {
        name,
        keyId: task.keyId,
        stackName: deps.stackName,
        credentials: users,
        ready: [...ready],
      }),
    );
  if (Object.keys(credentials).some((username) => existing.users[username] === undefined)) await write();

  const pending = Object.entries(credentials).filter(([username]) => !ready.has(username));
  const gate = rateLimiter(deps.cognitoRps);
  const paced = <T>(operation: () => Promise<T>) =>
    retry(async () => {
      await gate();
      return operation();
    });
  const limit = pLimit(SHARD_PARALLELISM);
  let created = 0;
  await Promise.all(
    pending.map(([username, password]) =>
      limit(async () => {
        if (await paced(() => createUser(deps.pool, username, deps.stackName))) created++;
        await paced(() => setPermanentPassword(deps.pool, username, password));
      }),
    ),
  );
  if (pending.length > 0) {
    for (const [username] of pending) ready.add(username);
    await write();
  }
  const size = task.to - task.from + 1;
  return { shard: task.shard, created, reused: size - created, skipped: size - pending.length };
}
