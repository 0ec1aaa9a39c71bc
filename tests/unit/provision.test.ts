import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { provisionShard } from '../../src/lib/provision';
import { awsError } from '../helpers';

describe('provisionShard', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const sm = mockClient(SecretsManagerClient);
  const order: string[] = [];
  let counter = 0;
  const deps = () => ({
    pool: { client: new CognitoIdentityProviderClient({}), userPoolId: 'pool', clientId: 'c' },
    secrets: new SecretsManagerClient({}),
    stackName: 's',
    secretPrefix: 's/test-users/',
    cognitoRps: 10_000,
    retry: { sleep: async () => {} },
    newPassword: () => `Password-${counter++}!aA1`,
  });

  beforeEach(() => {
    cognito.reset();
    sm.reset();
    order.length = 0;
    counter = 0;
    cognito.on(AdminCreateUserCommand).callsFake(async () => void order.push('create'));
    cognito.on(AdminSetUserPasswordCommand).callsFake(async () => void order.push('password'));
    stored.length = 0;
    sm.on(CreateSecretCommand).callsFake(async (input) => void store(input));
  });

  /** Every version of the secret that reached Secrets Manager, parsed, in order. */
  const stored: { users: Record<string, string>; ready?: string[] }[] = [];
  const written = () => stored;
  const store = (input: { SecretString?: string }) => {
    order.push('secret');
    stored.push(JSON.parse(String(input.SecretString)));
  };
  /** The secret exists: CreateSecret fails, PutSecretValue stores. */
  const secretExists = () => {
    sm.on(CreateSecretCommand).rejects(awsError('ResourceExistsException'));
    sm.on(PutSecretValueCommand).callsFake(async (input) => void store(input));
  };

  it('stores the shard credentials under the key before any password reaches Cognito', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));
    const result = await provisionShard({ shard: 1, from: 100, to: 102, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 1, created: 3, reused: 0, skipped: 0 });
    expect(order[0]).toBe('secret');
    const secret = sm.commandCalls(CreateSecretCommand)[0]?.args[0].input;
    expect(secret).toMatchObject({ Name: 's/test-users/shard-00001', KmsKeyId: 'key' });
    const stored = JSON.parse(String(secret?.SecretString)).users;
    expect(Object.keys(stored)).toEqual(['loadtestuser100', 'loadtestuser101', 'loadtestuser102']);
    const passwords = cognito.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input);
    expect(passwords).toHaveLength(3);
    for (const p of passwords) {
      expect(p.Permanent).toBe(true);
      expect(p.Password).toBe(stored[String(p.Username)]);
    }
    for (const c of cognito.commandCalls(AdminCreateUserCommand))
      expect(c.args[0].input.MessageAction).toBe('SUPPRESS');
  });

  it('completes the users of a secret written before `ready` existed, keeping their passwords', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser0: 'Kept-Password-1!', loadtestuser1: 'Kept-Password-2!' } }),
    });
    secretExists();
    cognito.on(AdminCreateUserCommand).rejects(awsError('UsernameExistsException'));
    cognito.on(AdminGetUserCommand).resolves({ UserAttributes: [{ Name: 'custom:apiloadtest', Value: 's' }] });
    const result = await provisionShard({ shard: 0, from: 0, to: 1, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 0, created: 0, reused: 2, skipped: 0 });
    // No new password, so only the one write that marks them ready, with the same passwords.
    expect(written()).toEqual([
      {
        users: { loadtestuser0: 'Kept-Password-1!', loadtestuser1: 'Kept-Password-2!' },
        ready: ['loadtestuser0', 'loadtestuser1'],
      },
    ]);
    expect(
      cognito
        .commandCalls(AdminSetUserPasswordCommand)
        .map((c) => c.args[0].input.Password)
        .sort(),
    ).toEqual(['Kept-Password-1!', 'Kept-Password-2!']);
  });

  it('marks the users ready only after every password is set', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));
    sm.on(CreateSecretCommand)
      .callsFakeOnce(async (input) => void store(input))
      .rejects(awsError('ResourceExistsException'));
    sm.on(PutSecretValueCommand).callsFake(async (input) => void store(input));
    await provisionShard({ shard: 0, from: 0, to: 2, keyId: 'key' }, deps());
    expect(order.filter((o) => o !== 'create')).toEqual(['secret', 'password', 'password', 'password', 'secret']);
    const [first, last] = written();
    expect(first?.ready).toEqual([]);
    expect(last?.ready?.sort()).toEqual(['loadtestuser0', 'loadtestuser1', 'loadtestuser2']);
    expect(last?.users).toEqual(first?.users);
  });

  it('makes no Cognito call and no secret write for users already ready', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        users: { loadtestuser0: 'P-0!aA1', loadtestuser1: 'P-1!aA1' },
        ready: ['loadtestuser0', 'loadtestuser1'],
      }),
    });
    const result = await provisionShard({ shard: 0, from: 0, to: 1, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 0, created: 0, reused: 2, skipped: 2 });
    expect(cognito.calls()).toHaveLength(0);
    expect(written()).toEqual([]);
  });

  it('completes a user whose password was stored but not yet set (a crash in between)', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        users: { loadtestuser0: 'P-0!aA1', loadtestuser1: 'P-1!aA1' },
        ready: ['loadtestuser0'],
      }),
    });
    secretExists();
    const result = await provisionShard({ shard: 0, from: 0, to: 1, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 0, created: 1, reused: 1, skipped: 1 });
    expect(cognito.commandCalls(AdminCreateUserCommand).map((c) => c.args[0].input.Username)).toEqual([
      'loadtestuser1',
    ]);
    expect(cognito.commandCalls(AdminSetUserPasswordCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ Username: 'loadtestuser1', Password: 'P-1!aA1' }),
    ]);
    expect(written()).toEqual([
      { users: { loadtestuser0: 'P-0!aA1', loadtestuser1: 'P-1!aA1' }, ready: ['loadtestuser0', 'loadtestuser1'] },
    ]);
  });

  it('a larger run creates only the missing users, storing their passwords before setting them', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser0: 'P-0!aA1' }, ready: ['loadtestuser0'] }),
    });
    secretExists();
    const result = await provisionShard({ shard: 0, from: 0, to: 2, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 0, created: 2, reused: 1, skipped: 1 });
    expect(order[0]).toBe('secret');
    expect(
      cognito
        .commandCalls(AdminCreateUserCommand)
        .map((c) => c.args[0].input.Username)
        .sort(),
    ).toEqual(['loadtestuser1', 'loadtestuser2']);
    expect(written()).toHaveLength(2);
    const [first, last] = written();
    expect(first?.ready).toEqual(['loadtestuser0']);
    expect(first?.users.loadtestuser0).toBe('P-0!aA1');
    expect(Object.keys(first?.users ?? {})).toHaveLength(3);
    expect(last?.ready?.sort()).toEqual(['loadtestuser0', 'loadtestuser1', 'loadtestuser2']);
  });

  it('ignores a ready mark for a user with no stored password', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: {}, ready: ['loadtestuser0'] }),
    });
    secretExists();
    const result = await provisionShard({ shard: 0, from: 0, to: 0, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 0, created: 1, reused: 0, skipped: 0 });
  });

  it('retries Cognito throttling instead of dropping users', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));
    cognito.on(AdminCreateUserCommand).rejectsOnce(awsError('TooManyRequestsException')).resolves({});
    const result = await provisionShard({ shard: 0, from: 0, to: 0, keyId: 'key' }, deps());
    expect(result.created).toBe(1);
    expect(cognito.commandCalls(AdminCreateUserCommand)).toHaveLength(2);
  });

  it('fails loudly on a non-retryable error', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));
    cognito.on(AdminCreateUserCommand).rejects(awsError('InvalidPasswordException'));
    await expect(provisionShard({ shard: 0, from: 0, to: 0, keyId: 'key' }, deps())).rejects.toThrow(
      'InvalidPasswordException',
    );
  });
});
