import {
  AddCustomAttributesCommand,
  AdminCreateUserCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { makeHandler as cleanupHandler } from '../../src/handlers/delete-test-users';
import { makeHandler as planHandler } from '../../src/handlers/plan-run';
import { makeHandler as provisionHandler } from '../../src/handlers/provision-users';
import { ENV } from '../../src/lib/config';
import { createRuntime, type Runtime } from '../../src/lib/deps';
import { setLogSink } from '../../src/lib/log';
import { type LocalEnvironment, startLocalEnvironment } from '../../src/local/environment';

/**
 * Bring your own pool: a pool the stack did not create, already holding users, some of them with the
 * stack's prefix. Provisioning and cleanup go through the real handlers; the pool's own users stay.
 */
describe('a pool of your own, shared with other users', () => {
  let env: LocalEnvironment;
  let runtime: Runtime;
  let poolId: string;
  const PREFIX = 'byo-';

  const usernames = async () =>
    ((await env.clients.cognito.send(new ListUsersCommand({ UserPoolId: poolId }))).Users ?? [])
      .map((user) => user.Username as string)
      .sort();
  const addUser = (username: string, marker?: string) =>
    env.clients.cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: poolId,
        Username: username,
        MessageAction: 'SUPPRESS',
        UserAttributes: marker === undefined ? [] : [{ Name: 'custom:apiloadtest', Value: marker }],
      }),
    );

  beforeAll(async () => {
    setLogSink(() => {});
    env = await startLocalEnvironment();
    const { cognito } = env.clients;
    const pool = await cognito.send(new CreateUserPoolCommand({ PoolName: 'their-pool' }));
    poolId = pool.UserPool?.Id as string;
    // The README's one-time step for a pool of your own.
    await cognito.send(
      new AddCustomAttributesCommand({
        UserPoolId: poolId,
        CustomAttributes: [{ Name: 'apiloadtest', AttributeDataType: 'String', Mutable: true }],
      }),
    );
    // What the stack's UserPoolClient resource makes in that pool.
    const client = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId: poolId,
        ClientName: 'apiloadtest-local-workers',
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
      }),
    );
    const handlerEnv = {
      ...env.handlerEnv('http://127.0.0.1:1'),
      [ENV.userPoolId]: poolId,
      [ENV.userPoolClientId]: client.UserPoolClient?.ClientId,
      [ENV.usernamePrefix]: PREFIX,
    };
    runtime = createRuntime(handlerEnv, env.clients);
  });
  afterAll(async () => {
    setLogSink(undefined);
    await env?.stop();
  });

  it('provisions and cleans up only its own users; everyone else stays', async () => {
    await addUser('alice');
    await addUser('loadtestuser0');
    // Our prefix, but not ours: no mark, another stack's mark, and a name that is not <prefix><number>.
    await addUser('byo-7');
    await addUser('byo-8', 'another-stack');
    await addUser('byo-admin');
    const others = await usernames();

    const plan = await planHandler(() => runtime)({
      input: { users: { NumberOfUsers: 5, NumberOfCallsPerUser: 1 } },
      executionName: 'byo-1',
    });
    for (const shard of plan.shards) await provisionHandler(() => runtime)({ ...shard, keyId: plan.keyId });
    // byo-0..byo-4 are ours now; byo-7 and byo-8 were not given passwords or marks.
    expect(await usernames()).toEqual([...others, 'byo-0', 'byo-1', 'byo-2', 'byo-3', 'byo-4'].sort());

    const result = await cleanupHandler(() => runtime)({});
    expect(result).toMatchObject({ usersDeleted: 5, usersRemaining: 0, usersSkippedNotOurs: 3 });
    expect(await usernames()).toEqual(others);
  });

  it('refuses to provision a user whose name is taken by someone else', async () => {
    await addUser('byo-9');
    const plan = await planHandler(() => runtime)({
      input: { users: { NumberOfUsers: 10, NumberOfCallsPerUser: 1 } },
      executionName: 'byo-2',
    });
    const [shard] = plan.shards;
    if (!shard) throw new Error('the plan has no shard');
    await expect(provisionHandler(() => runtime)({ ...shard, keyId: plan.keyId })).rejects.toMatchObject({
      name: 'UserNotOurs',
    });
    const result = await cleanupHandler(() => runtime)({});
    expect(result.usersSkippedNotOurs).toBe(4);
    expect(await usernames()).toEqual(['alice', 'byo-7', 'byo-8', 'byo-9', 'byo-admin', 'loadtestuser0']);
  });
});
