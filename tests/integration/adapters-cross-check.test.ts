import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  type KMSClient,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { type AwsClients, createClients } from '../../src/lib/aws/clients';
import {
  createUser,
  deleteUser,
  listUsernames,
  login,
  setPermanentPassword,
  type UserPool,
} from '../../src/lib/aws/cognito';
import { ensureUserSetKey, retireStackKeys, retireUserSetKey, STACK_TAG } from '../../src/lib/aws/kms';
import { getJson, listKeys, putJson, type ResultsStore } from '../../src/lib/aws/results';
import { deleteSecret, listSecretNames, readCredentials, writeCredentials } from '../../src/lib/aws/secrets';
import { cleanupUserSet } from '../../src/lib/cleanup';
import { generatePassword } from '../../src/lib/passwords';
import { deployStack, startLocalEnvironment } from '../../src/local/environment';
import { motoAvailable, startMoto } from '../moto';

/**
 * The adapters' scenarios against two implementations: our emulators (the KMS + Secrets Manager
 * emulator we wrote, cognito-local, s3rver) and moto, which we did not write. Where they part, the
 * difference is ours to explain or fix.
 */
interface Backend {
  readonly clients: AwsClients;
  readonly pool: UserPool;
  readonly results: ResultsStore;
  stop(): Promise<void>;
}

const ROOT = 'arn:aws:iam::000000000000:root';
const RETIRERS = ['arn:aws:iam::000000000000:role/k-planRun', 'arn:aws:iam::000000000000:role/k-deleteTestUsers'];
const noWait = { sleep: async () => {} };

async function ourEmulators(): Promise<Backend> {
  const env = await startLocalEnvironment();
  return {
    clients: env.clients,
    pool: { client: env.clients.cognito, userPoolId: env.stack.userPoolId, clientId: env.stack.clientId },
    results: { client: env.clients.s3, bucket: env.stack.bucket },
    stop: () => env.stop(),
  };
}

async function moto(): Promise<Backend> {
  const server = await startMoto();
  const { endpoint } = server;
  const clients = createClients({
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    endpoints: { cognito: endpoint, kms: endpoint, secrets: endpoint, s3: endpoint },
  });
  const stop = async () => {
    for (const client of Object.values(clients)) client.destroy();
    await server.stop();
  };
  try {
    const stack = await deployStack(clients, endpoint);
    return {
      clients,
      pool: { client: clients.cognito, userPoolId: stack.userPoolId, clientId: stack.clientId },
      results: { client: clients.s3, bucket: stack.bucket },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function keyState(kms: KMSClient, keyId: string): Promise<string | undefined> {
  return (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
}

async function createTaggedKey(kms: KMSClient, stack: string | undefined): Promise<string> {
  const out = await kms.send(
    new CreateKeyCommand({ Tags: stack === undefined ? [] : [{ TagKey: STACK_TAG, TagValue: stack }] }),
  );
  return out.KeyMetadata?.KeyId as string;
}

function scenarios(start: () => Promise<Backend>): void {
  let backend: Backend;
  beforeAll(async () => {
    backend = await start();
  }, 30_000);
  afterAll(async () => {
    await backend?.stop();
  });

  it('KMS: creates the key with its policy, tag and alias, finds it again, retires it, and never revives it', async () => {
    const { kms } = backend.clients;
    const options = { accountRootArn: ROOT, keyRetirerRoleArns: RETIRERS, retry: noWait };
    const keyId = await ensureUserSetKey(kms, 'alias/k1-test-users', 'k1', options);
    expect(await ensureUserSetKey(kms, 'alias/k1-test-users', 'k1', options)).toBe(keyId);
    const policy = await kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    const statements = JSON.parse(policy.Policy ?? '{}').Statement;
    expect(statements[0]).toMatchObject({ Principal: { AWS: ROOT }, Action: 'kms:*' });
    expect(statements[1]).toMatchObject({
      Principal: { AWS: RETIRERS },
      Action: ['kms:ScheduleKeyDeletion', 'kms:DeleteAlias'],
    });
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
    expect(tags.Tags).toEqual([{ TagKey: STACK_TAG, TagValue: 'k1' }]);

    const retired = await retireUserSetKey(kms, 'alias/k1-test-users');
    expect(retired).toMatchObject({ keyId, scheduled: true });
    const days = (Date.parse(retired.deletionDate ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    expect(await keyState(kms, keyId)).toBe('PendingDeletion');
    expect(await retireUserSetKey(kms, 'alias/k1-test-users')).toEqual({
      keyId: null,
      scheduled: false,
      deletionDate: null,
    });

    // An alias left on a key pending deletion moves to a fresh key.
    const second = await ensureUserSetKey(kms, 'alias/k1-test-users', 'k1', options);
    expect(second).not.toBe(keyId);
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: second, PendingWindowInDays: 7 }));
    const third = await ensureUserSetKey(kms, 'alias/k1-test-users', 'k1', options);
    expect([keyId, second]).not.toContain(third);
    expect((await kms.send(new DescribeKeyCommand({ KeyId: 'alias/k1-test-users' }))).KeyMetadata?.KeyId).toBe(third);
  });

  it('KMS: the tag scan schedules every key of the stack, aliased or not, and nothing else; a re-run schedules none', async () => {
    const { kms } = backend.clients;
    const aliased = await ensureUserSetKey(kms, 'alias/k2-test-users', 'k2', {
      accountRootArn: ROOT,
      keyRetirerRoleArns: RETIRERS,
      retry: noWait,
    });
    const orphan = await createTaggedKey(kms, 'k2');
    const otherStack = await createTaggedKey(kms, 'k2-other');
    const untagged = await createTaggedKey(kms, undefined);
    const scan = await retireStackKeys(kms, 'k2', { retry: noWait });
    expect([...scan.keyIds].sort()).toEqual([aliased, orphan].sort());
    expect(scan.complete).toBe(true);
    expect(scan.keysScanned).toBeGreaterThanOrEqual(4);
    expect(await keyState(kms, orphan)).toBe('PendingDeletion');
    expect(await keyState(kms, otherStack)).toBe('Enabled');
    expect(await keyState(kms, untagged)).toBe('Enabled');
    expect((await retireStackKeys(kms, 'k2', { retry: noWait })).keyIds).toEqual([]);
  });

  it('KMS: the tag scan pages through ListKeys and stops at its bound', async () => {
    const { kms } = backend.clients;
    const scan = await retireStackKeys(kms, 'nobody', { retry: noWait, maxKeys: 2 });
    expect(scan).toEqual({ keyIds: [], refusedKeyIds: [], keysScanned: 2, complete: false });
  });

  it('KMS + Secrets Manager: the error names and key-id rules the adapters rely on', async () => {
    const { kms, secrets } = backend.clients;
    const keyId = await createTaggedKey(kms, 'e1');
    const rejects = (promise: Promise<unknown>, name: string) => expect(promise).rejects.toMatchObject({ name });
    await rejects(kms.send(new DescribeKeyCommand({ KeyId: 'alias/e1-none' })), 'NotFoundException');
    await rejects(
      kms.send(new DescribeKeyCommand({ KeyId: '11111111-2222-3333-4444-555555555555' })),
      'NotFoundException',
    );
    // Only DescribeKey (and the crypto calls) resolve aliases; tag and deletion calls want the key itself.
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/e1', TargetKeyId: keyId }));
    await rejects(kms.send(new ListResourceTagsCommand({ KeyId: 'alias/e1' })), 'NotFoundException');
    await rejects(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/e1', TargetKeyId: keyId })),
      'AlreadyExistsException',
    );
    await rejects(kms.send(new CreateAliasCommand({ AliasName: 'e1', TargetKeyId: keyId })), 'ValidationException');
    await rejects(kms.send(new DeleteAliasCommand({ AliasName: 'alias/e1-none' })), 'NotFoundException');
    await rejects(secrets.send(new GetSecretValueCommand({ SecretId: 'e1/none' })), 'ResourceNotFoundException');
    await rejects(
      secrets.send(new PutSecretValueCommand({ SecretId: 'e1/none', SecretString: 'x' })),
      'ResourceNotFoundException',
    );
    await secrets.send(new CreateSecretCommand({ Name: 'e1/s', KmsKeyId: keyId, SecretString: 'v' }));
    await rejects(
      secrets.send(new CreateSecretCommand({ Name: 'e1/s', KmsKeyId: keyId, SecretString: 'v' })),
      'ResourceExistsException',
    );
    // A secret deleted with a recovery window is unusable and unlisted, and a forced deletion still removes it.
    await secrets.send(new DeleteSecretCommand({ SecretId: 'e1/s', RecoveryWindowInDays: 7 }));
    await rejects(secrets.send(new GetSecretValueCommand({ SecretId: 'e1/s' })), 'InvalidRequestException');
    expect(await listSecretNames(secrets, 'e1/')).toEqual([]);
    await secrets.send(new DeleteSecretCommand({ SecretId: 'e1/s', ForceDeleteWithoutRecovery: true }));
    await rejects(secrets.send(new GetSecretValueCommand({ SecretId: 'e1/s' })), 'ResourceNotFoundException');
  });

  it('Secrets Manager: writes, overwrites, reads, lists by prefix and deletes credentials', async () => {
    const { secrets, kms } = backend.clients;
    const keyId = await ensureUserSetKey(kms, 'alias/s1-test-users', 's1', {
      accountRootArn: ROOT,
      keyRetirerRoleArns: RETIRERS,
      retry: noWait,
    });
    const write = (name: string, password: string) =>
      writeCredentials(secrets, { name, keyId, stackName: 's1', credentials: { loadtestuser0: password } });
    await write('s1/test-users/shard-00000', 'first-1A!');
    await write('s1/test-users/shard-00000', 'second-2B!');
    await write('s1/test-users/shard-00001', 'third-3C!');
    await write('s1x/test-users/shard-00000', 'other-4D!');
    expect(await readCredentials(secrets, 's1/test-users/shard-00000')).toEqual({ loadtestuser0: 'second-2B!' });
    expect((await listSecretNames(secrets, 's1/test-users/')).sort()).toEqual([
      's1/test-users/shard-00000',
      's1/test-users/shard-00001',
    ]);
    expect(await deleteSecret(secrets, 's1/test-users/shard-00000')).toBe(true);
    // AWS answers a forced deletion of a secret already gone with success, so a re-run never fails on it.
    await expect(deleteSecret(secrets, 's1/test-users/shard-00000')).resolves.toBe(true);
    expect(await readCredentials(secrets, 's1/test-users/shard-00000')).toBeUndefined();
    expect(await listSecretNames(secrets, 's1/test-users/')).toEqual(['s1/test-users/shard-00001']);
  });

  it('Cognito: creates users once, sets permanent passwords, logs in, lists and deletes', async () => {
    const { pool } = backend;
    expect(await createUser(pool, 'loadtestuser0', 'c1')).toBe(true);
    expect(await createUser(pool, 'loadtestuser0', 'c1')).toBe(false);
    // Another stack's user of the same name is never reused.
    await expect(createUser(pool, 'loadtestuser0', 'c2')).rejects.toMatchObject({ name: 'UserNotOurs' });
    expect(await createUser(pool, 'loadtestuser1', 'c1')).toBe(true);
    expect(await createUser(pool, 'someoneelse', 'c1')).toBe(true);
    const password = generatePassword();
    await setPermanentPassword(pool, 'loadtestuser0', password);
    const tokens = await login(pool, 'loadtestuser0', password);
    expect(tokens.accessToken.split('.')).toHaveLength(3);
    expect(tokens.expiresAt).toBeGreaterThan(Date.now());
    await expect(login(pool, 'loadtestuser0', `${password}x`)).rejects.toMatchObject({ name: 'LoginFailed' });
    expect((await listUsernames(pool, 'loadtestuser')).sort()).toEqual(['loadtestuser0', 'loadtestuser1']);
    expect(await deleteUser(pool, 'loadtestuser1')).toBe(true);
    expect(await deleteUser(pool, 'loadtestuser1')).toBe(false);
    expect(await deleteUser(pool, 'someoneelse')).toBe(true);
  });

  it('S3: puts, gets and lists results under a prefix', async () => {
    const { results } = backend;
    await putJson(results, 'runs/r1/users/00000.json', { user: 0 });
    await putJson(results, 'runs/r1/users/00001.json', { user: 1 });
    await putJson(results, 'runs/r2/users/00000.json', { user: 9 });
    expect(await getJson(results, 'runs/r1/users/00001.json')).toEqual({ user: 1 });
    expect((await listKeys(results, 'runs/r1/')).sort()).toEqual([
      'runs/r1/users/00000.json',
      'runs/r1/users/00001.json',
    ]);
  });

  it('cleanup: removes the whole user set, the key and unaliased keys of the stack; a re-run reports zeros', async () => {
    const { clients, pool } = backend;
    const keyId = await ensureUserSetKey(clients.kms, 'alias/c1-test-users', 'c1', {
      accountRootArn: ROOT,
      keyRetirerRoleArns: RETIRERS,
      retry: noWait,
    });
    const orphan = await createTaggedKey(clients.kms, 'c1');
    await createUser(pool, 'loadtestuser2', 'c1');
    await writeCredentials(clients.secrets, {
      name: 'c1/test-users/shard-00000',
      keyId,
      stackName: 'c1',
      credentials: { loadtestuser2: 'x-5E!' },
    });
    const deps = {
      pool,
      secrets: clients.secrets,
      kms: clients.kms,
      secretPrefix: 'c1/test-users/',
      keyAlias: 'alias/c1-test-users',
      stackName: 'c1',
      cognitoRps: 1_000,
      retry: noWait,
    };
    const first = await cleanupUserSet({ users: undefined }, deps);
    // loadtestuser0 is left from the Cognito case: every test user of the pool goes.
    expect(first).toMatchObject({
      usersDeleted: 2,
      usersRemaining: 0,
      secretsDeleted: 1,
      key: { keyId, scheduled: true },
      orphanKeysScheduled: 1,
      keyScanComplete: true,
    });
    expect(await keyState(clients.kms, orphan)).toBe('PendingDeletion');
    expect(await cleanupUserSet({ users: undefined }, deps)).toEqual({
      usersDeleted: 0,
      usersRemaining: 0,
      usersSkippedNotOurs: 0,
      secretsDeleted: 0,
      key: { keyId: null, scheduled: false, deletionDate: null },
      orphanKeysScheduled: 0,
      keyScanComplete: true,
    });
  });
}

describe('adapters against our emulators', () => scenarios(ourEmulators));

const MOTO = motoAvailable();
if (!MOTO) console.warn('adapters against moto: skipped, moto_server is not on the PATH');
(MOTO ? describe : describe.skip)(
  `adapters against moto${MOTO ? '' : ' (skipped: moto_server is not on the PATH)'}`,
  () => scenarios(moto),
);
