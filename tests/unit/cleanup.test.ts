import {
  AdminDeleteUserCommand,
  CognitoIdentityProviderClient,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  DeleteAliasCommand,
  DescribeKeyCommand,
  KMSClient,
  ListKeysCommand,
  ListResourceTagsCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import {
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { cleanupUserSet } from '../../src/lib/cleanup';
import { awsError } from '../helpers';

/** A listed user carrying stack `s`'s mark (or another stack's, or none). */
const user = (Username: string, stack: string | null = 's') => ({
  Username,
  Attributes: stack === null ? [] : [{ Name: 'custom:apiloadtest', Value: stack }],
});

describe('cleanupUserSet', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const sm = mockClient(SecretsManagerClient);
  const kms = mockClient(KMSClient);
  const deps = {
    pool: { client: new CognitoIdentityProviderClient({}), userPoolId: 'pool', clientId: 'c' },
    secrets: new SecretsManagerClient({}),
    kms: new KMSClient({}),
    secretPrefix: 's/test-users/',
    keyAlias: 'alias/s-test-users',
    stackName: 's',
    cognitoRps: 10_000,
    retry: { sleep: async () => {} },
  };
  beforeEach(() => {
    cognito.reset();
    sm.reset();
    kms.reset();
    kms.on(ListKeysCommand).resolves({ Keys: [] });
    sm.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));
  });

  it('finds every test user itself, deletes secrets with no recovery window, and schedules the key', async () => {
    cognito.on(ListUsersCommand).resolves({
      Users: [user('loadtestuser0'), user('loadtestuser7'), user('loadtestuser8', null), user('loadtestuser9', 's2')],
    });
    cognito.on(AdminDeleteUserCommand).resolves({});
    sm.on(ListSecretsCommand).resolves({ SecretList: [{ Name: 's/test-users/shard-00000' }] });
    sm.on(DeleteSecretCommand).resolves({});
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', KeyState: 'Enabled' } });
    kms.on(ScheduleKeyDeletionCommand).resolves({ DeletionDate: new Date('2030-01-01T00:00:00Z') });
    const result = await cleanupUserSet({ users: undefined }, deps);
    expect(result).toEqual({
      usersDeleted: 2,
      usersRemaining: 0,
      usersSkippedNotOurs: 2,
      secretsDeleted: 1,
      key: { keyId: 'k', scheduled: true, deletionDate: '2030-01-01T00:00:00.000Z' },
      orphanKeysScheduled: 0,
      keyScanComplete: true,
    });
    expect(sm.commandCalls(DeleteSecretCommand)[0]?.args[0].input).toEqual({
      SecretId: 's/test-users/shard-00000',
      ForceDeleteWithoutRecovery: true,
    });
    expect(kms.commandCalls(DeleteAliasCommand)).toHaveLength(1);
  });

  it('reports zeros on a clean pool', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    sm.on(ListSecretsCommand).resolves({ SecretList: [] });
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
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

  it('finds keys by the stack tag too, skipping other stacks, keys it may not read, and keys already scheduled', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    sm.on(ListSecretsCommand).resolves({ SecretList: [] });
    kms
      .on(ListKeysCommand)
      .resolvesOnce({ Keys: [{ KeyId: 'orphan' }, { KeyId: 'other' }], Truncated: true, NextMarker: 'm' });
    kms.on(ListKeysCommand, { Marker: 'm' }).resolves({ Keys: [{ KeyId: 'denied' }, { KeyId: 'gone' }] });
    const tagged = (stack: string) => ({ Tags: [{ TagKey: 'apiloadtest:stack', TagValue: stack }] });
    kms.on(ListResourceTagsCommand, { KeyId: 'orphan' }).resolves(tagged('s'));
    kms.on(ListResourceTagsCommand, { KeyId: 'other' }).resolves(tagged('s2'));
    kms.on(ListResourceTagsCommand, { KeyId: 'denied' }).rejects(awsError('AccessDeniedException'));
    kms.on(ListResourceTagsCommand, { KeyId: 'gone' }).resolves(tagged('s'));
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    kms.on(DescribeKeyCommand, { KeyId: 'orphan' }).resolves({ KeyMetadata: { KeyId: 'orphan', KeyState: 'Enabled' } });
    kms
      .on(DescribeKeyCommand, { KeyId: 'gone' })
      .resolves({ KeyMetadata: { KeyId: 'gone', KeyState: 'PendingDeletion' } });
    kms.on(ScheduleKeyDeletionCommand).resolves({});
    const result = await cleanupUserSet({ users: undefined }, deps);
    expect(result).toMatchObject({ orphanKeysScheduled: 1, keyScanComplete: true });
    expect(kms.commandCalls(ScheduleKeyDeletionCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: 'orphan', PendingWindowInDays: 7 },
    ]);
  });

  it('stops the key scan at its bound and says so', async () => {
    cognito.on(ListUsersCommand).resolves({ Users: [] });
    sm.on(ListSecretsCommand).resolves({ SecretList: [] });
    kms.on(DescribeKeyCommand).rejects(awsError('NotFoundException'));
    const keys = Array.from({ length: 1_000 }, (_, i) => ({ KeyId: `k${i}` }));
    kms.on(ListKeysCommand).resolves({ Keys: keys, Truncated: true, NextMarker: 'more' });
    kms.on(ListResourceTagsCommand).resolves({ Tags: [] });
    const result = await cleanupUserSet({ users: undefined }, deps);
    expect(result).toMatchObject({ orphanKeysScheduled: 0, keyScanComplete: false });
    expect(kms.commandCalls(ListResourceTagsCommand)).toHaveLength(2_000);
  });

  it('with a number, deletes loadtestuser0..N-1 and keeps secrets while other test users remain', async () => {
    cognito.on(AdminDeleteUserCommand).resolves({});
    cognito.on(ListUsersCommand).resolves({
      Users: ['loadtestuser0', 'loadtestuser1', 'loadtestuser2', 'loadtestuser5'].map((name) => user(name)),
    });
    const result = await cleanupUserSet({ users: 3 }, deps);
    // Deletes run concurrently: the order they reach Cognito is not part of the contract.
    expect(
      cognito
        .commandCalls(AdminDeleteUserCommand)
        .map((c) => c.args[0].input.Username)
        .sort(),
    ).toEqual(['loadtestuser0', 'loadtestuser1', 'loadtestuser2']);
    expect(result).toMatchObject({ usersDeleted: 3, usersRemaining: 1, secretsDeleted: 0 });
    expect(sm.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(kms.commandCalls(ScheduleKeyDeletionCommand)).toHaveLength(0);
  });

  it('takes the ready marks off the users it deletes before deleting any, keeping the others', async () => {
    const order: string[] = [];
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        users: { loadtestuser0: 'p0', loadtestuser1: 'p1', loadtestuser5: 'p5' },
        ready: ['loadtestuser0', 'loadtestuser1', 'loadtestuser5'],
      }),
    });
    sm.on(PutSecretValueCommand).callsFake(async () => void order.push('unmark'));
    cognito.on(AdminDeleteUserCommand).callsFake(async () => void order.push('delete'));
    cognito.on(ListUsersCommand).resolves({
      Users: ['loadtestuser0', 'loadtestuser1', 'loadtestuser5'].map((name) => user(name)),
    });
    await cleanupUserSet({ users: 2 }, deps);
    expect(order).toEqual(['unmark', 'delete', 'delete']);
    const put = sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
    expect(put?.SecretId).toBe('s/test-users/shard-00000');
    expect(JSON.parse(String(put?.SecretString))).toEqual({
      users: { loadtestuser0: 'p0', loadtestuser1: 'p1', loadtestuser5: 'p5' },
      ready: ['loadtestuser5'],
    });
  });
});
