import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { makeHandler as cleanupHandler } from '../../src/handlers/delete-test-users';
import { makeHandler as planHandler } from '../../src/handlers/plan-run';
import { makeHandler as provisionHandler } from '../../src/handlers/provision-users';
import { createRuntime, type Runtime } from '../../src/lib/deps';
import { setLogSink } from '../../src/lib/log';
import type { ProvisionResult } from '../../src/lib/provision';
import { type LocalEnvironment, startLocalEnvironment } from '../../src/local/environment';

/** Runs of the real Plan and Provision handlers against one set of emulators, counting every Cognito call. */
describe('provisioning reuses the users of an earlier run', () => {
  let env: LocalEnvironment;
  let runtime: Runtime;
  const calls = new Map<string, number>();

  beforeAll(async () => {
    setLogSink(() => {});
    env = await startLocalEnvironment();
    runtime = createRuntime(env.handlerEnv('http://127.0.0.1:1'), env.clients);
    // Counted before the request is built, so a call the SDK would retry is counted once.
    env.clients.cognito.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName).replace(/Command$/, '');
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
  });
  afterAll(async () => {
    setLogSink(undefined);
    await env?.stop();
  });

  /** One run's Plan and Provision, shard after shard, and the Cognito calls it made. */
  async function provision(users: number, executionName: string) {
    calls.clear();
    const plan = await planHandler(() => runtime)({
      input: { users: { NumberOfUsers: users, NumberOfCallsPerUser: 1 } },
      executionName,
    });
    const results: ProvisionResult[] = [];
    for (const shard of plan.shards)
      results.push(await provisionHandler(() => runtime)({ ...shard, keyId: plan.keyId }));
    const sum = (field: 'created' | 'reused' | 'skipped') => results.reduce((total, r) => total + r[field], 0);
    return {
      created: sum('created'),
      reused: sum('reused'),
      skipped: sum('skipped'),
      calls: Object.fromEntries(calls),
    };
  }

  it('a second run with the same users makes no Cognito call; a larger one creates only the missing', async () => {
    const first = await provision(150, 'reuse-1');
    expect(first).toMatchObject({ created: 150, reused: 0, skipped: 0 });
    expect(first.calls).toEqual({ AdminCreateUser: 150, AdminSetUserPassword: 150 });

    const same = await provision(150, 'reuse-2');
    expect(same).toEqual({ created: 0, reused: 150, skipped: 150, calls: {} });

    const fewer = await provision(40, 'reuse-3');
    expect(fewer).toEqual({ created: 0, reused: 40, skipped: 40, calls: {} });

    const larger = await provision(230, 'reuse-4');
    expect(larger).toEqual({
      created: 80,
      reused: 150,
      skipped: 150,
      calls: { AdminCreateUser: 80, AdminSetUserPassword: 80 },
    });
    const newest = await env.clients.cognito.send(
      new AdminGetUserCommand({ UserPoolId: env.stack.userPoolId, Username: 'loadtestuser229' }),
    );
    expect(newest.UserStatus).toBe('CONFIRMED');
  });

  it('after deleteTestUsers removed some users, the next run creates exactly those again', async () => {
    const cleanup = await cleanupHandler(() => runtime)({ NumberOfUsers: '120' });
    expect(cleanup).toMatchObject({ usersDeleted: 120, usersRemaining: 110, secretsDeleted: 0 });
    const again = await provision(230, 'reuse-5');
    expect(again).toEqual({
      created: 120,
      reused: 110,
      skipped: 110,
      calls: { AdminCreateUser: 120, AdminSetUserPassword: 120 },
    });
  });
});
