import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { AppError, errorName } from '../errors';
import { STACK_TAG } from './kms';

/** username -> password for one shard of users. */
export type Credentials = Record<string, string>;

export const shardSecretName = (prefix: string, shard: number): string =>
  `${prefix}shard-${String(shard).padStart(5, '0')}`;

/**
 * One shard's secret: the credentials, and which of those users are known to exist in Cognito with
 * exactly that password (`ready`), so that a later run can reuse them without a single Cognito write.
 */
export interface ShardSecret {
  readonly users: Credentials;
  readonly ready: readonly string[];
}

/** A shard's secret, or undefined when it does not exist (yet, or any more). */
export async function readShardSecret(client: SecretsManagerClient, name: string): Promise<ShardSecret | undefined> {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: name }));
    return parseShardSecret(out.SecretString, name);
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** A shard's credentials, or undefined when the secret does not exist (yet, or any more). */
export async function readCredentials(client: SecretsManagerClient, name: string): Promise<Credentials | undefined> {
  return (await readShardSecret(client, name))?.users;
}

function parseShardSecret(text: string | undefined, name: string): ShardSecret {
  try {
    const parsed: unknown = JSON.parse(text ?? '');
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const { users, ready } = parsed as { users?: unknown; ready?: unknown };
      if (typeof users === 'object' && users !== null) {
        // Secrets written before `ready` existed have none: their users are completed once more.
        const marked = Array.isArray(ready) ? ready.filter((u): u is string => typeof u === 'string') : [];
        return { users: users as Credentials, ready: marked };
      }
    }
  } catch {
    // fall through: never echo the secret's text
  }
  throw new AppError('CredentialsNotFound', `secret ${name} does not hold test-user credentials`);
}

/** Stores a shard's credentials encrypted under the user set's key, creating the secret if needed. */
export async function writeCredentials(
  client: SecretsManagerClient,
  params: { name: string; keyId: string; stackName: string; credentials: Credentials; ready?: readonly string[] },
): Promise<void> {
  const { credentials: users, ready } = params;
  const SecretString = JSON.stringify(ready ? { users, ready } : { users });
  try {
    await client.send(
      new CreateSecretCommand({
        Name: params.name,
        KmsKeyId: params.keyId,
        SecretString,
        Description: 'apiloadtest test-user credentials',
        Tags: [{ Key: STACK_TAG, Value: params.stackName }],
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ResourceExistsException') throw error;
    await client.send(new PutSecretValueCommand({ SecretId: params.name, SecretString }));
  }
}

/**
 * Takes the `ready` mark off these users in an existing shard secret (passwords stay), so that a run
 * after they are deleted creates them again instead of trusting the mark. Writes only when a mark goes.
 */
export async function unmarkReady(
  client: SecretsManagerClient,
  name: string,
  usernames: readonly string[],
): Promise<boolean> {
  const secret = await readShardSecret(client, name);
  if (!secret) return false;
  const doomed = new Set(usernames);
  const ready = secret.ready.filter((username) => !doomed.has(username));
  if (ready.length === secret.ready.length) return false;
  const SecretString = JSON.stringify({ users: secret.users, ready });
  await client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
  return true;
}

/** Names of every secret under `prefix`. */
export async function listSecretNames(client: SecretsManagerClient, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 100, NextToken: token }),
    );
    for (const secret of page.SecretList ?? []) if (secret.Name?.startsWith(prefix)) names.push(secret.Name);
    token = page.NextToken;
  } while (token);
  return names;
}

/** Deletes at once (no recovery window): test credentials are worthless after cleanup. */
export async function deleteSecret(client: SecretsManagerClient, name: string): Promise<boolean> {
  try {
    await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    return true;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return false;
    throw error;
  }
}
