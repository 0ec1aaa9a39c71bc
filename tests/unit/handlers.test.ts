import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { makeHandler } from '../../src/handlers/plan-run';
import type { AwsClients } from '../../src/lib/aws/clients';
import { createRuntime } from '../../src/lib/deps';
import { InvalidInputError } from '../../src/lib/errors';

const env = {
  LOADTEST_STACK_NAME: 'apiloadtest-test',
  LOADTEST_USER_POOL_ID: 'pool',
  LOADTEST_USER_POOL_CLIENT_ID: 'client',
  LOADTEST_RESULTS_BUCKET: 'bucket',
  LOADTEST_TARGET_URL: 'https://api.example.com/items',
  LOADTEST_ACCOUNT_ROOT_ARN: 'arn:aws:iam::123456789012:root',
  LOADTEST_KEY_RETIRER_ROLE_ARNS: 'arn:aws:iam::123456789012:role/p,arn:aws:iam::123456789012:role/d',
};

describe('plan-run handler', () => {
  const kms = mockClient(KMSClient);
  const runtime = createRuntime(env, { kms: new KMSClient({}) } as AwsClients);
  const handler = makeHandler(() => runtime);
  beforeEach(() => kms.reset());

  it('throws InvalidInput naming NumberOfUsers, and creates nothing', async () => {
    const error = await handler({ input: { users: { NumberOfUsers: '-3' } }, executionName: 'e' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ name: 'InvalidInput', field: 'users.NumberOfUsers' });
    expect((error as Error).message).toContain('NumberOfUsers');
    expect(kms.calls()).toHaveLength(0);
  });

  it('returns a compact plan bound to the user set key for the seed input', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'key-1', KeyState: 'Enabled' } });
    const plan = await handler({
      input: { users: { NumberOfUsers: '100', NumberOfCallsPerUser: '100' } },
      executionName: 'exec-1',
    });
    expect(plan).toMatchObject({
      runId: 'exec-1',
      users: 100,
      load: { model: 'iterations', iterations: 100 },
      keyId: 'key-1',
    });
    expect(plan.shards).toEqual([{ shard: 0, from: 0, to: 99 }]);
    // The estimate npm run plan prints, priced in the region of the invoked function.
    expect(plan.estimate).toMatchObject({ region: 'us-east-1', peakConcurrency: 100, budget: 800 });
    expect(plan.estimate?.totalUsd).toBeGreaterThan(0);
    expect(kms.commandCalls(DescribeKeyCommand)[0]?.args[0].input.KeyId).toBe('alias/apiloadtest-test-test-users');
    expect(kms.commandCalls(CreateKeyCommand)).toHaveLength(0);
  });

  it('prices the estimate in the region of its own ARN', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'key-1', KeyState: 'Enabled' } });
    const plan = await handler(
      { input: { users: { NumberOfUsers: '10', NumberOfCallsPerUser: '1' } }, executionName: 'exec-3' },
      { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:apiloadtest-dev-planRun' },
    );
    expect(plan.estimate?.region).toBe('eu-west-1');
  });

  it('creates a missing key with a policy naming the configured retiring roles', async () => {
    kms
      .on(DescribeKeyCommand)
      .resolvesOnce({})
      .resolves({ KeyMetadata: { KeyId: 'key-2', KeyState: 'Enabled' } });
    kms.on(CreateKeyCommand).resolves({ KeyMetadata: { KeyId: 'key-2' } });
    await handler({ input: { users: { NumberOfUsers: '1', NumberOfCallsPerUser: '1' } }, executionName: 'exec-2' });
    const policy = JSON.parse(kms.commandCalls(CreateKeyCommand)[0]?.args[0].input.Policy ?? '{}');
    expect(policy.Statement[1].Principal.AWS).toEqual([
      'arn:aws:iam::123456789012:role/p',
      'arn:aws:iam::123456789012:role/d',
    ]);
  });
});
