import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createUser, deleteUser, listUsernames, login } from '../../src/lib/aws/cognito';
import { ensureUserSetKey, retireStackKeys, retireUserSetKey } from '../../src/lib/aws/kms';
import { getJson, listKeys } from '../../src/lib/aws/results';
import { readCredentials, shardSecretName, writeCredentials } from '../../src/lib/aws/secrets';
import { awsError } from '../helpers';

describe('cognito adapter', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const pool = {
    client: new CognitoIdentityProviderClient({ region: 'us-east-1' }),
    userPoolId: 'pool',
    clientId: 'client',
  };
  beforeEach(() => cognito.reset());

  it('creates users with the welcome message suppressed and reuses existing ones', async () => {
    cognito.on(AdminCreateUserCommand).resolvesOnce({}).rejects(awsError('UsernameExistsException'));
    cognito
      .on(AdminGetUserCommand)
      .resolvesOnce({ UserAttributes: [{ Name: 'custom:apiloadtest', Value: 's1' }] })
      .resolvesOnce({ UserAttributes: [{ Name: 'custom:apiloadtest', Value: 'other' }] })
      .resolvesOnce({ UserAttributes: [] });
    expect(await createUser(pool, 'loadtestuser0', 's1')).toBe(true);
    expect(await createUser(pool, 'loadtestuser0', 's1')).toBe(false);
    // Someone else's user of that name: neither reused nor touched.
    await expect(createUser(pool, 'loadtestuser0', 's1')).rejects.toMatchObject({ name: 'UserNotOurs' });
    await expect(createUser(pool, 'loadtestuser0', 's1')).rejects.toMatchObject({ name: 'UserNotOurs' });
    expect(cognito.commandCalls(AdminCreateUserCommand)[0]?.args[0].input).toEqual({
      UserPoolId: 'pool',
      Username: 'loadtestuser0',
      MessageAction: 'SUPPRESS',
      UserAttributes: [{ Name: 'custom:apiloadtest', Value: 's1' }],
    });
  });

  it('treats a user already gone as not deleted, and rethrows anything else', async () => {
    cognito
      .on(AdminDeleteUserCommand)
      .rejectsOnce(awsError('UserNotFoundException'))
      .rejectsOnce(awsError('AccessDenied'));
    expect(await deleteUser(pool, 'u')).toBe(false);
    await expect(deleteUser(pool, 'u')).rejects.toThrow('AccessDenied');
  });

  it('lists every page of test users', async () => {
    cognito
      .on(ListUsersCommand)
      .resolvesOnce({ Users: [{ Username: 'loadtestuser0' }, { Username: 'someone' }], PaginationToken: 't' })
      .resolvesOnce({ Users: [{ Username: 'loadtestuser1' }] });
    expect(await listUsernames(pool, 'loadtestuser')).toEqual(['loadtestuser0', 'loadtestuser1']);
  });

  it('logs in with ADMIN_USER_PASSWORD_AUTH and never puts the password in an error', async () => {
    cognito.on(AdminInitiateAuthCommand).resolvesOnce({
      AuthenticationResult: { AccessToken: 'a', RefreshToken: 'r', ExpiresIn: 60 },
    });
    expect(await login(pool, 'u', 'Secret-Pass-1', () => 1_000)).toEqual({
      accessToken: 'a',
      refreshToken: 'r',
      expiresAt: 61_000,
    });
    expect(cognito.commandCalls(AdminInitiateAuthCommand)[0]?.args[0].input.AuthFlow).toBe('ADMIN_USER_PASSWORD_AUTH');
    cognito.on(AdminInitiateAuthCommand).rejects(awsError('NotAuthorizedException'));
    const failure = await login(pool, 'u', 'Secret-Pass-1').catch((e: Error) => e);
    expect(failure).toMatchObject({ name: 'LoginFailed' });
    expect(String((failure as Error).message)).not.toContain('Secret-Pass-1');
  });
});

describe('kms adapter', () => {
  const kms = mockClient(KMSClient);
  const client = new KMSClient({ region: 'us-east-1' });
  const retirers = ['arn:aws:iam::123456789012:role/s-planRun', 'arn:aws:iam::123456789012:role/s-deleteTestUsers'];
  const options = {
    accountRootArn: 'arn:aws:iam::123456789012:root',
    keyRetirerRoleArns: retirers,
    retry: { sleep: async () => {} },
  };
  beforeEach(() => kms.reset());

  it('reuses an enabled key found by alias', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k1', KeyState: 'Enabled' } });
    expect(await ensureUserSetKey(client, 'alias/s-test-users', 's', options)).toBe('k1');
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });

  it('creates a tagged key and its alias on first use', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k2' } });
    kms.on(CreateAliasCommand).resolves({});
    expect(await ensureUserSetKey(client, 'alias/s-test-users', 's', options)).toBe('k2');
    expect(kms.commandCalls(CreateKeyCommand)[0]?.args[0].input.Tags).toEqual([
      { TagKey: 'apiloadtest:stack', TagValue: 's' },
    ]);
    expect(kms.commandCalls(CreateAliasCommand)[0]?.args[0].input).toEqual({
      AliasName: 'alias/s-test-users',
      TargetKeyId: 'k2',
    });
  });

  it('creates the key with an explicit policy that keeps the account in control and lets exactly the stack roles retire it, without bypassing the lockout check', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k2' } });
    await ensureUserSetKey(client, 'alias/s-test-users', 's', options);
    const input = kms.commandCalls(CreateKeyCommand)[0]?.args[0].input;
    expect(input?.BypassPolicyLockoutSafetyCheck).toBe(false);
    expect(JSON.parse(input?.Policy ?? '{}').Statement).toEqual([
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::123456789012:root' },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Sid: 'StackRolesRetireThisKey',
        Effect: 'Allow',
        Principal: { AWS: retirers },
        Action: ['kms:ScheduleKeyDeletion', 'kms:DeleteAlias'],
        Resource: '*',
      },
    ]);
  });

  it('refuses to create a key no stack role could retire', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    await expect(ensureUserSetKey(client, 'alias/a', 's', { ...options, keyRetirerRoleArns: [] })).rejects.toThrow(
      /roles that may retire it/,
    );
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });

  it('loses an alias race gracefully: schedules its own key and uses the winner', async () => {
    kms
      .on(DescribeKeyCommand)
      .rejectsOnce(awsError('NotFoundException'))
      .resolves({ KeyMetadata: { KeyId: 'winner', KeyState: 'Enabled' } });
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'mine' } });
    kms.on(CreateAliasCommand).rejects(awsError('AlreadyExistsException'));
    kms.on(ScheduleKeyDeletionCommand).resolves({});
    expect(await ensureUserSetKey(client, 'alias/a', 's', options)).toBe('winner');
    expect(kms.commandCalls(CreateAliasCommand)).toHaveLength(1);
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0]?.args[0].input.KeyId).toBe('mine');
  });

  it('retries a throttled alias with the same key, and schedules that key when the alias never comes', async () => {
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'k3' } });
    kms.on(CreateAliasCommand).rejects(awsError('ThrottlingException'));
    kms.on(ScheduleKeyDeletionCommand).resolves({});
    await expect(
      ensureUserSetKey(client, 'alias/a', 's', { ...options, retry: { ...options.retry, attempts: 3 } }),
    ).rejects.toThrow('ThrottlingException');
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(CreateAliasCommand).map((c) => c.args[0].input.TargetKeyId)).toEqual(['k3', 'k3', 'k3']);
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0]?.args[0].input).toEqual({
      KeyId: 'k3',
      PendingWindowInDays: 7,
    });
  });

  it('moves the alias off a key pending deletion', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'old', KeyState: 'PendingDeletion' } });
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'new' } });
    expect(await ensureUserSetKey(client, 'alias/a', 's', options)).toBe('new');
    expect(kms.commandCalls(DeleteAliasCommand)).toHaveLength(1);
  });

  it('schedules deletion in 7 days and removes the alias; a second call is a no-op', async () => {
    kms.on(DescribeKeyCommand).resolvesOnce({ KeyMetadata: { KeyId: 'k', KeyState: 'Enabled' } });
    kms.on(ScheduleKeyDeletionCommand).resolves({ DeletionDate: new Date('2030-01-08T00:00:00Z') });
    expect(await retireUserSetKey(client, 'alias/a')).toEqual({
      keyId: 'k',
      scheduled: true,
      deletionDate: '2030-01-08T00:00:00.000Z',
    });
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)[0]?.args[0].input.PendingWindowInDays).toBe(7);
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    expect(await retireUserSetKey(client, 'alias/a')).toEqual({ keyId: null, scheduled: false, deletionDate: null });
  });

  it('leaves a key tagged with the stack alone when its key policy does not let our roles retire it', async () => {
    kms.on(ListKeysCommand).resolves({ Keys: [{ KeyId: 'ours' }, { KeyId: 'relabelled' }] });
    kms.on(ListResourceTagsCommand).resolves({ Tags: [{ TagKey: 'apiloadtest:stack', TagValue: 's' }] });
    kms.on(DescribeKeyCommand).callsFake(({ KeyId }) => ({ KeyMetadata: { KeyId, KeyState: 'Enabled' } }));
    kms.on(ScheduleKeyDeletionCommand).resolves({});
    kms.on(ScheduleKeyDeletionCommand, { KeyId: 'relabelled' }).rejects(awsError('AccessDeniedException'));
    expect(await retireStackKeys(client, 's', { retry: options.retry })).toEqual({
      keyIds: ['ours'],
      refusedKeyIds: ['relabelled'],
      keysScanned: 2,
      complete: true,
    });
  });
});

describe('secrets adapter', () => {
  const sm = mockClient(SecretsManagerClient);
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  beforeEach(() => sm.reset());

  it('names shard secrets under the prefix', () => {
    expect(shardSecretName('s/test-users/', 7)).toBe('s/test-users/shard-00007');
  });

  it('reads credentials, and undefined when the secret does not exist', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: '{"users":{"u":"p"}}' })
      .rejectsOnce(awsError('ResourceNotFoundException'));
    expect(await readCredentials(client, 'n')).toEqual({ u: 'p' });
    expect(await readCredentials(client, 'n')).toBeUndefined();
  });

  it('does not echo a malformed secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-not-json' });
    const error = await readCredentials(client, 'n').catch((e: Error) => e);
    expect((error as Error).name).toBe('CredentialsNotFound');
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('creates the secret under the key, or puts a new value when it exists', async () => {
    sm.on(CreateSecretCommand).resolvesOnce({}).rejectsOnce(awsError('ResourceExistsException'));
    sm.on(PutSecretValueCommand).resolves({});
    await writeCredentials(client, { name: 'n', keyId: 'k', stackName: 's', credentials: { u: 'p' } });
    expect(sm.commandCalls(CreateSecretCommand)[0]?.args[0].input).toMatchObject({
      Name: 'n',
      KmsKeyId: 'k',
      SecretString: '{"users":{"u":"p"}}',
    });
    await writeCredentials(client, { name: 'n', keyId: 'k', stackName: 's', credentials: { u: 'q' } });
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'n',
      SecretString: '{"users":{"u":"q"}}',
    });
  });

  it('lists secrets by name prefix across pages', async () => {
    sm.on(ListSecretsCommand)
      .resolvesOnce({ SecretList: [{ Name: 'p/a' }], NextToken: 't' })
      .resolvesOnce({ SecretList: [{ Name: 'p/b' }, { Name: 'other' }] });
    const { listSecretNames } = await import('../../src/lib/aws/secrets');
    expect(await listSecretNames(client, 'p/')).toEqual(['p/a', 'p/b']);
  });
});

describe('results adapter', () => {
  const s3 = mockClient(S3Client);
  const store = { client: new S3Client({ region: 'us-east-1' }), bucket: 'b' };
  beforeEach(() => s3.reset());

  it('lists keys across pages and reads JSON', async () => {
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'a' }], IsTruncated: true, NextContinuationToken: 't' })
      .resolvesOnce({ Contents: [{ Key: 'b' }], IsTruncated: false });
    expect(await listKeys(store, 'runs/')).toEqual(['a', 'b']);
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => '{"x":1}' } as never });
    expect(await getJson(store, 'a')).toEqual({ x: 1 });
  });
});
