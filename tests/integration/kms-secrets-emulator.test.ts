import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { KmsSecretsEmulator } from '../../src/local/kms-secrets-emulator';

/** The emulator speaks the real protocol: these are the real SDK clients, with AWS's error names. */
describe('KMS + Secrets Manager emulator', () => {
  const emulator = new KmsSecretsEmulator();
  let kms: KMSClient;
  let sm: SecretsManagerClient;
  beforeAll(async () => {
    const endpoint = await emulator.start();
    const options = {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    };
    kms = new KMSClient(options);
    sm = new SecretsManagerClient(options);
  });
  afterAll(async () => {
    kms.destroy();
    sm.destroy();
    await emulator.stop();
  });

  it('creates keys and aliases, with AWS error names for conflicts and unknown keys', async () => {
    const key = await kms.send(new CreateKeyCommand({ Description: 'd' }));
    expect(key.KeyMetadata?.KeyState).toBe('Enabled');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: key.KeyMetadata?.KeyId }));
    await expect(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/x', TargetKeyId: key.KeyMetadata?.KeyId })),
    ).rejects.toMatchObject({
      name: 'AlreadyExistsException',
    });
    await expect(kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' }))).rejects.toMatchObject({
      name: 'NotFoundException',
    });
    const described = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' }));
    expect(described.KeyMetadata?.KeyId).toBe(key.KeyMetadata?.KeyId);
    expect(described.KeyMetadata?.CreationDate).toBeInstanceOf(Date);
  });

  it('stores secrets encrypted and refuses a key pending deletion', async () => {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const keyId = KeyMetadata?.KeyId as string;
    await sm.send(new CreateSecretCommand({ Name: 'p/s1', KmsKeyId: keyId, SecretString: 'value-1' }));
    await expect(
      sm.send(new CreateSecretCommand({ Name: 'p/s1', KmsKeyId: keyId, SecretString: 'v' })),
    ).rejects.toMatchObject({
      name: 'ResourceExistsException',
    });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'p/s1' }))).SecretString).toBe('value-1');
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(scheduled.KeyState).toBe('PendingDeletion');
    expect(scheduled.DeletionDate?.getTime()).toBeGreaterThan(Date.now() + 6.9 * 86_400_000);
    await expect(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 })),
    ).rejects.toMatchObject({
      name: 'KMSInvalidStateException',
    });
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'p/s1' }))).rejects.toMatchObject({
      name: 'DecryptionFailure',
    });
    await expect(
      sm.send(new CreateSecretCommand({ Name: 'p/s2', KmsKeyId: keyId, SecretString: 'v' })),
    ).rejects.toMatchObject({
      name: 'EncryptionFailure',
    });
    await expect(
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 3 })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('answers ResourceNotFoundException for unknown secrets and pages ListSecrets', async () => {
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    for (let i = 0; i < 5; i++)
      await sm.send(new CreateSecretCommand({ Name: `page/${i}`, KmsKeyId: KeyMetadata?.KeyId, SecretString: 'v' }));
    const first = await sm.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['page/'] }], MaxResults: 3 }),
    );
    expect(first.SecretList).toHaveLength(3);
    const second = await sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: ['page/'] }],
        MaxResults: 3,
        NextToken: first.NextToken,
      }),
    );
    expect(second.SecretList?.map((s) => s.Name)).toEqual(['page/3', 'page/4']);
    expect(second.NextToken).toBeUndefined();
  });

  // Where moto is laxer than AWS, the emulator keeps AWS's rules (see adapters-cross-check for the shared ones).
  it('keeps the AWS rules moto does not check: policies, list paging, reserved aliases, deleted secrets', async () => {
    await expect(kms.send(new CreateKeyCommand({ Policy: 'not json' }))).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Policy: '{"Statement":[]}' }));
    const keyId = KeyMetadata?.KeyId as string;
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy).toBe('{"Statement":[]}');
    await expect(kms.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'other' }))).rejects.toMatchObject({
      name: 'NotFoundException',
    });
    const firstPage = await kms.send(new ListKeysCommand({ Limit: 1 }));
    expect(firstPage).toMatchObject({ Keys: [expect.anything()], Truncated: true });
    const nextPage = await kms.send(new ListKeysCommand({ Limit: 1, Marker: firstPage.NextMarker }));
    expect(nextPage.Keys?.[0]?.KeyId).not.toBe(firstPage.Keys?.[0]?.KeyId);
    await expect(kms.send(new ListKeysCommand({ Marker: 'x' }))).rejects.toMatchObject({
      name: 'InvalidMarkerException',
    });
    await expect(kms.send(new ListKeysCommand({ Limit: 0 }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: keyId })),
    ).rejects.toMatchObject({ name: 'NotAuthorizedException' });
    await expect(
      kms.send(new ListAliasesCommand({ KeyId: '11111111-2222-3333-4444-555555555555' })),
    ).rejects.toMatchObject({
      name: 'NotFoundException',
    });
    await sm.send(new CreateSecretCommand({ Name: 'soft/s', KmsKeyId: keyId, SecretString: 'v' }));
    await sm.send(new DeleteSecretCommand({ SecretId: 'soft/s', RecoveryWindowInDays: 7 }));
    await expect(
      sm.send(new CreateSecretCommand({ Name: 'soft/s', KmsKeyId: keyId, SecretString: 'v' })),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await expect(
      sm.send(
        new DeleteSecretCommand({ SecretId: 'soft/s', RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      sm.send(new DeleteSecretCommand({ SecretId: 'never/existed', ForceDeleteWithoutRecovery: true })),
    ).resolves.toMatchObject({ Name: 'never/existed' });
  });

  it('injects throttling that the SDK sees as ThrottlingException', async () => {
    emulator.injectThrottling({ operation: 'CreateKey', count: 1 });
    await expect(kms.send(new CreateKeyCommand({}))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(kms.send(new CreateKeyCommand({}))).resolves.toBeDefined();
  });
});
