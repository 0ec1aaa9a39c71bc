import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pLimit from 'p-limit';
import { deleteUser, listTestUsers, type UserPool } from './aws/cognito';
import { type KeyRetirement, retireStackKeys, retireUserSetKey } from './aws/kms';
import { deleteSecret, listSecretNames, shardSecretName, unmarkReady } from './aws/secrets';
import { DEFAULT_USERNAME_PREFIX } from './config';
import type { CleanupInput } from './input';
import { shardOf, userIndexOf } from './plan';
import { type RetryOptions, rateLimiter, withRetry } from './retry';

export interface CleanupDeps {
  readonly pool: UserPool;
  readonly secrets: SecretsManagerClient;
  readonly kms: KMSClient;
  readonly secretPrefix: string;
  readonly keyAlias: string;
  /** Value of the stack tag on the keys this stack created: how keys without an alias are found. */
  readonly stackName: string;
  /** Test users' name prefix (config.ts); default `loadtestuser`. */
  readonly usernamePrefix?: string;
  readonly cognitoRps: number;
  readonly retry?: RetryOptions;
}

export interface CleanupResult {
  readonly usersDeleted: number;
  /** Test users still in the pool (only with a number smaller than the user set); secrets and key stay with them. */
  readonly usersRemaining: number;
  /** Users with the prefix but not the stack's mark (MARKER_ATTRIBUTE): someone else's, left alone. */
  readonly usersSkippedNotOurs: number;
  readonly secretsDeleted: number;
  /** The key the alias points at. */
  readonly key: KeyRetirement;
  /** Other keys tagged with the stack (e.g. left without an alias by a failed run) scheduled for deletion. */
  readonly orphanKeysScheduled: number;
  /** False when the account held more keys than the scan reads (MAX_KEYS_SCANNED): orphans past it remain. */
  readonly keyScanComplete: boolean;
}

const PARALLELISM = 8;

/**
 * Removes the test users, their secrets and the user set's key. Safe to re-run: what is already gone
 * counts as zero. Without a number it finds every test user itself, so leftovers of any run go too.
 */
export async function cleanupUserSet(input: CleanupInput, deps: CleanupDeps): Promise<CleanupResult> {
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);
  const prefix = deps.usernamePrefix ?? DEFAULT_USERNAME_PREFIX;
  // Only users that carry the stack's mark, with or without a number: a pool may hold other users.
  const listed = await retry(() => listTestUsers(deps.pool, prefix, deps.stackName));
  const indexed = listed.ours.flatMap((username) => {
    const index = userIndexOf(username, prefix);
    return index === undefined ? [] : [{ username, index }];
  });
  const limited = input.users;
  const usernames = indexed
    .filter(({ index }) => limited === undefined || index < limited)
    .map(({ username }) => username);
  const remaining = indexed.length - usernames.length;

  const limit = pLimit(PARALLELISM);
  // Before any user goes, its `ready` mark goes: were cleanup to stop half-way, the next run would
  // otherwise trust the mark and skip a user that no longer exists.
  const byShard = new Map<number, string[]>();
  for (const { username, index } of indexed) {
    if (limited !== undefined && index >= limited) continue;
    const shard = shardOf(index);
    const names = byShard.get(shard) ?? [];
    names.push(username);
    byShard.set(shard, names);
  }
  await Promise.all(
    [...byShard].map(([shard, names]) =>
      limit(() => retry(() => unmarkReady(deps.secrets, shardSecretName(deps.secretPrefix, shard), names))),
    ),
  );

  const gate = rateLimiter(deps.cognitoRps);
  const deleted = await Promise.all(
    usernames.map((username) =>
      limit(() =>
        retry(async () => {
          await gate();
          return deleteUser(deps.pool, username);
        }),
      ),
    ),
  );

  // Secrets go only with the whole user set: with a number, a shard may still hold other users.
  let secretsDeleted = 0;
  let key: KeyRetirement = { keyId: null, scheduled: false, deletionDate: null };
  let orphans = { keyIds: [] as readonly string[], complete: true };
  if (remaining === 0) {
    const names = await retry(() => listSecretNames(deps.secrets, deps.secretPrefix));
    const removed = await Promise.all(names.map((name) => limit(() => retry(() => deleteSecret(deps.secrets, name)))));
    secretsDeleted = removed.filter(Boolean).length;
    key = await retry(() => retireUserSetKey(deps.kms, deps.keyAlias));
    // After the aliased key, so that the scan counts only keys the alias did not lead to.
    orphans = await retireStackKeys(deps.kms, deps.stackName, { retry: deps.retry });
  }
  return {
    usersDeleted: deleted.filter(Boolean).length,
    usersRemaining: remaining,
    usersSkippedNotOurs: listed.notOurs.length + listed.ours.length - indexed.length,
    secretsDeleted,
    key,
    orphanKeysScheduled: orphans.keyIds.length,
    keyScanComplete: orphans.complete,
  };
}
