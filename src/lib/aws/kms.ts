import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  type KMSClient,
  paginateListKeys,
  paginateListResourceTags,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import pLimit from 'p-limit';
import { errorName } from '../errors';
import { type RetryOptions, withRetry } from '../retry';

/** The minimum KMS allows: a key scheduled today is gone in a week, and costs nothing meanwhile. */
export const KEY_DELETION_DAYS = 7;

export const STACK_TAG = 'apiloadtest:stack';

/** What a key policy names; `Resource: "*"` in a key policy means that one key. */
export interface UserSetKeyPrincipals {
  /** `arn:<partition>:iam::<account>:root` of the account that owns the key. */
  readonly accountRootArn: string;
  /** The stack's roles that may retire the key (PlanRun's and DeleteTestUsers'). */
  readonly keyRetirerRoleArns: readonly string[];
}

/** What the stack's roles may do to a key only because its key policy says so (see sls/iam.ts). */
export const KEY_RETIRE_ACTIONS = ['kms:ScheduleKeyDeletion', 'kms:DeleteAlias'] as const;

/**
 * AWS's default key policy, stated explicitly (the account, through IAM, stays in control of the key,
 * so a key policy can never lock the account out of its own test-user key), plus the stack's roles
 * retiring it. Only a key made here carries that statement, so it, not a tag anyone with
 * kms:TagResource could add later, is what lets the stack destroy a key.
 */
export function userSetKeyPolicy({ accountRootArn, keyRetirerRoleArns }: UserSetKeyPrincipals): string {
  if (keyRetirerRoleArns.length === 0) throw new Error('a user set key needs the roles that may retire it');
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'apiloadtest-test-users',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: accountRootArn },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Sid: 'StackRolesRetireThisKey',
        Effect: 'Allow',
        Principal: { AWS: [...keyRetirerRoleArns] },
        Action: [...KEY_RETIRE_ACTIONS],
        Resource: '*',
      },
    ],
  });
}

export interface UserSetKeyOptions extends UserSetKeyPrincipals {
  readonly retry?: RetryOptions;
}

async function describeKey(kms: KMSClient, keyId: string) {
  try {
    return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
  } catch (error) {
    if (errorName(error) === 'NotFoundException') return undefined;
    throw error;
  }
}

async function deleteAlias(kms: KMSClient, alias: string): Promise<void> {
  try {
    await kms.send(new DeleteAliasCommand({ AliasName: alias }));
  } catch (error) {
    if (errorName(error) !== 'NotFoundException') throw error;
  }
}

async function scheduleDeletion(kms: KMSClient, keyId: string): Promise<Date | undefined> {
  const out = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: KEY_DELETION_DAYS }));
  return out.DeletionDate;
}

/**
 * The user set's key, found by alias or created (tagged with the stack) on first use. A key left
 * pending deletion by an earlier cleanup is not revived: its alias is moved to a fresh key.
 *
 * Each step is retried on its own: retrying "create key + alias" as one unit would create a second
 * key whenever only the alias step was throttled. A key whose alias cannot be made is scheduled for
 * deletion before the error surfaces; should even that fail, its stack tag lets cleanup find it.
 */
export async function ensureUserSetKey(
  kms: KMSClient,
  alias: string,
  stackName: string,
  options: UserSetKeyOptions,
): Promise<string> {
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, options.retry);
  const existing = await retry(() => describeKey(kms, alias));
  if (existing?.KeyId && existing.KeyState === 'Enabled') return existing.KeyId;
  if (existing) await retry(() => deleteAlias(kms, alias));
  // A throttled CreateKey created nothing, so retrying it is safe; a response lost after the key was
  // made would leave one tagged, unaliased key, which cleanup's tag scan schedules.
  const created = await retry(() =>
    kms.send(
      new CreateKeyCommand({
        Description: `apiloadtest test-user credentials for ${stackName}`,
        KeyUsage: 'ENCRYPT_DECRYPT',
        KeySpec: 'SYMMETRIC_DEFAULT',
        Policy: userSetKeyPolicy(options),
        BypassPolicyLockoutSafetyCheck: false,
        Tags: [{ TagKey: STACK_TAG, TagValue: stackName }],
      }),
    ),
  );
  const keyId = created.KeyMetadata?.KeyId;
  if (!keyId) throw new Error('KMS CreateKey returned no key id');
  try {
    await retry(() => kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId })));
    return keyId;
  } catch (error) {
    await retry(() => scheduleDeletion(kms, keyId)).catch(() => undefined);
    // Another execution won the race: use its key.
    if (errorName(error) !== 'AlreadyExistsException') throw error;
    const winner = await retry(() => describeKey(kms, alias));
    if (!winner?.KeyId) throw error;
    return winner.KeyId;
  }
}

export interface KeyRetirement {
  readonly keyId: string | null;
  readonly scheduled: boolean;
  readonly deletionDate: string | null;
}

/** Schedules the user set's key for deletion and removes its alias; a missing key is not an error. */
export async function retireUserSetKey(kms: KMSClient, alias: string): Promise<KeyRetirement> {
  const key = await describeKey(kms, alias);
  if (!key?.KeyId) return { keyId: null, scheduled: false, deletionDate: null };
  let deletionDate = key.DeletionDate?.toISOString() ?? null;
  let scheduled = false;
  if (key.KeyState !== 'PendingDeletion') {
    deletionDate = (await scheduleDeletion(kms, key.KeyId))?.toISOString() ?? null;
    scheduled = true;
  }
  await deleteAlias(kms, alias);
  return { keyId: key.KeyId, scheduled, deletionDate };
}

/**
 * KMS lists keys but cannot filter them by tag, so finding the stack's keys costs one ListResourceTags
 * per key in the account (region). Both calls share per-account request quotas, and an account may hold
 * thousands of keys: the scan reads at most this many keys, a few at a time, and says when it stopped
 * short rather than throttling everything else in the account.
 */
export const MAX_KEYS_SCANNED = 2_000;
const TAG_READS_IN_FLIGHT = 4;

export interface OrphanKeyScan {
  /** Enabled or Disabled keys tagged with the stack that this scan scheduled for deletion. */
  readonly keyIds: readonly string[];
  /**
   * Keys tagged with the stack whose key policy does not let our roles retire them: a key the stack
   * did not create (anyone allowed to tag can add the tag), or one made under a since re-created role.
   */
  readonly refusedKeyIds: readonly string[];
  readonly keysScanned: number;
  /** False when the account holds more keys than MAX_KEYS_SCANNED: keys past it were not looked at. */
  readonly complete: boolean;
}

/** A key's tags; keys we may not read (other teams', AWS managed ones under least privilege) have none for us. */
async function tagsOf(kms: KMSClient, keyId: string): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  try {
    for await (const page of paginateListResourceTags({ client: kms }, { KeyId: keyId })) {
      for (const tag of page.Tags ?? []) if (tag.TagKey) tags.set(tag.TagKey, tag.TagValue ?? '');
    }
  } catch (error) {
    if (errorName(error) === 'AccessDeniedException' || errorName(error) === 'NotFoundException') return tags;
    throw error;
  }
  return tags;
}

/**
 * Schedules every key tagged with the stack that is not already pending deletion, whether or not an
 * alias points at it: a key orphaned by a failed alias step is found here, never through the alias.
 */
export async function retireStackKeys(
  kms: KMSClient,
  stackName: string,
  options: { retry?: RetryOptions; maxKeys?: number } = {},
): Promise<OrphanKeyScan> {
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, options.retry);
  const maxKeys = options.maxKeys ?? MAX_KEYS_SCANNED;
  const keyIds: string[] = [];
  let complete = true;
  // Pages lean on the SDK's own retry: a throttled page is asked again, not the whole listing.
  for await (const page of paginateListKeys({ client: kms, pageSize: 1_000 }, {})) {
    for (const key of page.Keys ?? []) {
      if (keyIds.length >= maxKeys) {
        complete = false;
        break;
      }
      if (key.KeyId) keyIds.push(key.KeyId);
    }
    if (!complete) break;
  }
  const limit = pLimit(TAG_READS_IN_FLIGHT);
  const refusedKeyIds: string[] = [];
  const scheduled = await Promise.all(
    keyIds.map((keyId) =>
      limit(async () => {
        const tags = await retry(() => tagsOf(kms, keyId));
        if (tags.get(STACK_TAG) !== stackName) return undefined;
        const key = await retry(() => describeKey(kms, keyId));
        if (!key || key.KeyState === 'PendingDeletion' || key.KeyState === 'PendingReplicaDeletion') return undefined;
        try {
          await retry(() => scheduleDeletion(kms, keyId));
        } catch (error) {
          // Scheduled by a concurrent cleanup between DescribeKey and here: nothing left to do.
          if (errorName(error) === 'KMSInvalidStateException') return undefined;
          // The tag is not proof of ownership, the key policy is (sls/iam.ts): leave the key alone.
          if (errorName(error) === 'AccessDeniedException') {
            refusedKeyIds.push(keyId);
            return undefined;
          }
          throw error;
        }
        return keyId;
      }),
    ),
  );
  return {
    keyIds: scheduled.filter((id): id is string => id !== undefined),
    refusedKeyIds,
    keysScanned: keyIds.length,
    complete,
  };
}
