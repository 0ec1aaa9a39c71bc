import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { errorName } from '../errors';

/** The minimum KMS allows: a key scheduled today is gone in a week, and costs nothing meanwhile. */
export const KEY_DELETION_DAYS = 7;

export const STACK_TAG = 'apiloadtest:stack';

async function describeAlias(kms: KMSClient, alias: string) {
  try {
    return (await kms.send(new DescribeKeyCommand({ KeyId: alias }))).KeyMetadata;
  } catch (error) {
    if (errorName(error) === 'NotFoundException') return undefined;
    throw error;
  }
}

/**
 * The user set's key, found by alias or created (tagged with the stack) on first use. A key left
 * pending deletion by an earlier cleanup is not revived: its alias is moved to a fresh key.
 */
export async function ensureUserSetKey(kms: KMSClient, alias: string, stackName: string): Promise<string> {
  const existing = await describeAlias(kms, alias);
  if (existing?.KeyId && existing.KeyState === 'Enabled') return existing.KeyId;
  if (existing) await kms.send(new DeleteAliasCommand({ AliasName: alias }));
  const created = await kms.send(
    new CreateKeyCommand({
      Description: `apiloadtest test-user credentials for ${stackName}`,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      Tags: [{ TagKey: STACK_TAG, TagValue: stackName }],
    }),
  );
  const keyId = created.KeyMetadata?.KeyId;
  if (!keyId) throw new Error('KMS CreateKey returned no key id');
  try {
    await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
  } catch (error) {
    // Another execution won the race: use its key and retire ours.
    if (errorName(error) !== 'AlreadyExistsException') throw error;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: KEY_DELETION_DAYS }));
    const winner = await describeAlias(kms, alias);
    if (!winner?.KeyId) throw error;
    return winner.KeyId;
  }
  return keyId;
}

export interface KeyRetirement {
  readonly keyId: string | null;
  readonly scheduled: boolean;
  readonly deletionDate: string | null;
}

/** Schedules the user set's key for deletion and removes its alias; a missing key is not an error. */
export async function retireUserSetKey(kms: KMSClient, alias: string): Promise<KeyRetirement> {
  const key = await describeAlias(kms, alias);
  if (!key?.KeyId) return { keyId: null, scheduled: false, deletionDate: null };
  let deletionDate = key.DeletionDate?.toISOString() ?? null;
  let scheduled = false;
  if (key.KeyState !== 'PendingDeletion') {
    const out = await kms.send(
      new ScheduleKeyDeletionCommand({ KeyId: key.KeyId, PendingWindowInDays: KEY_DELETION_DAYS }),
    );
    deletionDate = out.DeletionDate?.toISOString() ?? null;
    scheduled = true;
  }
  await kms.send(new DeleteAliasCommand({ AliasName: alias }));
  return { keyId: key.KeyId, scheduled, deletionDate };
}
