import {
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
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
    sm.on(CreateSecretCommand).callsFake(async () => void order.push('secret'));
  });

  it('stores the shard credentials under the key before any password reaches Cognito', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('ResourceNotFoundException'));
    const result = await provisionShard({ shard: 1, from: 100, to: 102, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 1, created: 3, reused: 0 });
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

  it('reuses existing users and their stored passwords without rewriting the secret', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser0: 'Kept-Password-1!', loadtestuser1: 'Kept-Password-2!' } }),
    });
    cognito.on(AdminCreateUserCommand).rejects(awsError('UsernameExistsException'));
    const result = await provisionShard({ shard: 0, from: 0, to: 1, keyId: 'key' }, deps());
    expect(result).toEqual({ shard: 0, created: 0, reused: 2 });
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(
      cognito
        .commandCalls(AdminSetUserPasswordCommand)
        .map((c) => c.args[0].input.Password)
        .sort(),
    ).toEqual(['Kept-Password-1!', 'Kept-Password-2!']);
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
