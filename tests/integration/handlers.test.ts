import { AdminGetUserCommand, ListUsersCommand } from '@aws-sdk/client-cognito-identity-provider';
import { CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { makeHandler as aggregateHandler } from '../../src/handlers/aggregate-results';
import { makeHandler as cleanupHandler } from '../../src/handlers/delete-test-users';
import { makeHandler as planHandler } from '../../src/handlers/plan-run';
import { makeHandler as provisionHandler } from '../../src/handlers/provision-users';
import { makeHandler as workerHandler } from '../../src/handlers/run-worker';
import type { AggregateTask } from '../../src/lib/aggregate';
import { dataShardKey, getJson, putObject } from '../../src/lib/aws/results';
import type { DataShard } from '../../src/lib/data';
import { createRuntime, type Runtime } from '../../src/lib/deps';
import { setLogSink } from '../../src/lib/log';
import type { RunPlan } from '../../src/lib/plan';
import type { Report } from '../../src/lib/report/report';
import { type LocalEnvironment, startLocalEnvironment } from '../../src/local/environment';
import { JwtVerifier } from '../../src/local/jwt-verifier';
import { type SampleApi, startSampleApi } from '../../src/local/sample-api';

/** Each handler, called as Lambda would call it, with real SDK calls against the local emulators. */
describe('handlers against the local emulators', () => {
  let env: LocalEnvironment;
  let api: SampleApi;
  let runtime: Runtime;
  let plan: RunPlan;

  beforeAll(async () => {
    setLogSink(() => {});
    env = await startLocalEnvironment();
    const { stack } = env;
    api = await startSampleApi(
      new JwtVerifier({ issuer: stack.issuer, audience: stack.clientId, jwksUrl: stack.jwksUrl }),
    );
    runtime = createRuntime(env.handlerEnv(api.url), env.clients);
  });
  afterAll(async () => {
    setLogSink(undefined);
    await api?.stop();
    await env?.stop();
  });

  it('plan creates the user set key once and finds it again', async () => {
    const handler = planHandler(() => runtime);
    plan = await handler({
      input: { users: { NumberOfUsers: '3', NumberOfCallsPerUser: '4', StartDelaySeconds: 0 } },
      executionName: 'it-1',
    });
    const again = await handler({
      input: { users: { NumberOfUsers: 3, NumberOfCallsPerUser: 4 } },
      executionName: 'it-2',
    });
    expect(again.keyId).toBe(plan.keyId);
    const key = await env.clients.kms.send(new DescribeKeyCommand({ KeyId: runtime.config.keyAlias }));
    expect(key.KeyMetadata).toMatchObject({ KeyId: plan.keyId, KeyState: 'Enabled' });
  });

  it('plan splits a data file into one rows file per shard (user i gets row i mod rows), and refuses a bad one', async () => {
    const handler = planHandler(() => runtime);
    await putObject(runtime.results, 'data/users.csv', 'id,city\r\n0,"Oslo, NO"\r\n1,Lima\r\n2,Pune\r\n', 'text/csv');
    const input = {
      users: { NumberOfUsers: 250, NumberOfCallsPerUser: 1, StartDelaySeconds: 0 },
      request: { path: '/items/{{data.id}}', headers: { 'x-city': '{{data.city}}' } },
      data: { key: 'data/users.csv' },
    };
    const withData = await handler({ input, executionName: 'it-data' });
    expect(withData.worker.dataRows).toBe(3);
    const shards = await Promise.all(
      [0, 1, 2].map((shard) => getJson<DataShard>(runtime.results, dataShardKey('it-data', shard))),
    );
    expect(shards.map((s) => [s.firstUser, s.rows.length])).toEqual([
      [0, 100],
      [100, 100],
      [200, 50],
    ]);
    // User 200 gets row 200 mod 3 = 2; user 100 row 1; user 0 row 0.
    expect([shards[0]?.rows[0], shards[1]?.rows[0], shards[2]?.rows[0]]).toEqual([
      { id: '0', city: 'Oslo, NO' },
      { id: '1', city: 'Lima' },
      { id: '2', city: 'Pune' },
    ]);
    await expect(
      handler({
        input: { ...input, request: { path: '/items/{{data.sku}}' } },
        executionName: 'it-data-2',
      }),
    ).rejects.toThrow('data.key: request.path reads {{data.sku}} but row 0 of data/users.csv has no "sku"');
    await expect(
      handler({ input: { ...input, data: { key: 'data/missing.json' } }, executionName: 'it-data-3' }),
    ).rejects.toMatchObject({ name: 'InvalidInput', field: 'data.key' });
  });

  it('provision creates confirmed users and an encrypted credentials secret, and survives throttling', async () => {
    env.kmsSecrets.injectThrottling({ operation: 'CreateSecret', count: 2 });
    env.kmsSecrets.injectThrottling({ operation: 'GetSecretValue', count: 1 });
    const handler = provisionHandler(() => runtime);
    const [shard] = plan.shards;
    expect(await handler({ ...(shard as RunPlan['shards'][number]), keyId: plan.keyId })).toEqual({
      shard: 0,
      created: 3,
      reused: 0,
      skipped: 0,
    });
    // Idempotent: a second run reuses everything, without a Cognito call.
    expect(await handler({ ...(shard as RunPlan['shards'][number]), keyId: plan.keyId })).toEqual({
      shard: 0,
      created: 0,
      reused: 3,
      skipped: 3,
    });
    const user = await env.clients.cognito.send(
      new AdminGetUserCommand({ UserPoolId: env.stack.userPoolId, Username: 'loadtestuser2' }),
    );
    expect(user.UserStatus).toBe('CONFIRMED');
    const secret = await env.clients.secrets.send(
      new GetSecretValueCommand({ SecretId: `${runtime.config.secretPrefix}shard-00000` }),
    );
    expect(Object.keys(JSON.parse(String(secret.SecretString)).users)).toEqual([
      'loadtestuser0',
      'loadtestuser1',
      'loadtestuser2',
    ]);
  });

  it('workers log in and send authorized requests that the protected API accepts', async () => {
    const handler = workerHandler(() => runtime);
    const armedAt = new Date().toISOString();
    const results = await Promise.all(
      [0, 1, 2].map((firstUser) => handler({ firstUser, lastUser: 2, settings: plan.worker, armedAt })),
    );
    expect(results.map((r) => ('total' in r ? r.total : -1))).toEqual([4, 4, 4]);
    expect(api.stats.accepted).toBe(12);
    expect(api.stats.rejected).toBe(0);
    expect([...api.stats.byUser.entries()].sort()).toEqual([
      ['loadtestuser0', 4],
      ['loadtestuser1', 4],
      ['loadtestuser2', 4],
    ]);
  });

  const aggregateTask = (overrides: Partial<AggregateTask> = {}): AggregateTask => ({
    runId: plan.runId,
    users: plan.users,
    load: plan.load,
    thresholds: { p95Ms: 60_000 },
    groups: plan.groups,
    usersPerWorker: plan.worker.usersPerWorker,
    workers: plan.workers,
    ...overrides,
  });

  it('aggregate writes report.json with every request accounted for', async () => {
    const handler = aggregateHandler(() => runtime);
    const out = await handler(aggregateTask());
    expect(out.report.requests).toEqual({
      total: 12,
      responses: 12,
      ok: 12,
      failed: 0,
      httpFailed: 0,
      transportFailed: 0,
      notSent: 0,
      dropped: 0,
    });
    expect(out.report.thresholds.passed).toBe(true);
    expect(out.verdict).toMatchObject({ passed: true, error: null });
    const stored = await getJson<Report>(runtime.results, out.reportKey);
    expect(stored.statusCodes).toEqual({ '200': 12 });
    expect(stored.users).toBe(3);
    expect(JSON.stringify(stored)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('a worker that failed is recorded, its saved counts kept, and the run fails with WorkersFailed', async () => {
    const worker = workerHandler(() => runtime);
    // What the state machine's Catch hands over when a worker's summary write failed.
    const counts = {
      total: 4,
      responses: 3,
      ok: 3,
      failed: 1,
      statusCodes: { '200': 3 },
      errors: { timeout: 1 },
      notSent: 0,
    };
    await worker({
      failedWorker: {
        runId: plan.runId,
        firstUser: 3,
        lastUser: 4,
        usersPerWorker: 1,
        error: {
          Error: 'SummaryNotSaved',
          Cause: JSON.stringify({
            errorType: 'SummaryNotSaved',
            errorMessage: `user 3: SummaryNotSaved: summary not written | counts: ${JSON.stringify({ 3: counts })}`,
          }),
        },
      },
    });
    // User 4's worker left nothing at all (killed before it could report).
    const out = await aggregateHandler(() => runtime)(
      aggregateTask({ users: 5, groups: [{ from: 0, to: 4 }], usersPerWorker: 1, workers: 5 }),
    );
    expect(out.report.requests).toMatchObject({ total: 16, responses: 15, ok: 15, failed: 1, transportFailed: 1 });
    expect(out.report.workers).toMatchObject({
      expected: 5,
      usersReported: 3,
      usersCountedFromErrors: 1,
      usersUnknown: 1,
      failed: 2,
    });
    expect(out.report.workers.failures.map((f) => [f.firstUser, f.error, f.usersCounted])).toEqual([
      [3, 'SummaryNotSaved', 1],
      [4, 'NoSummary', 0],
    ]);
    expect(out.verdict).toMatchObject({ passed: false, error: 'WorkersFailed' });
    expect(out.verdict.cause).toMatch(/2 worker\(s\) failed \(allowed 0\), requests of 1 user\(s\) unknown/);
    // The report is written before the verdict fails the execution.
    expect((await getJson<Report>(runtime.results, out.reportKey)).verdict.error).toBe('WorkersFailed');
    const tolerant = await aggregateHandler(() => runtime)(
      aggregateTask({
        users: 5,
        groups: [{ from: 0, to: 4 }],
        usersPerWorker: 1,
        workers: 5,
        thresholds: { maxFailedWorkers: 2 },
      }),
    );
    expect(tolerant.verdict.passed).toBe(true);
  });

  it('cleanup removes users, secrets, the key and unaliased keys of the stack; a re-run reports zeros', async () => {
    const handler = cleanupHandler(() => runtime);
    const keyTagged = async (stack: string) =>
      (
        await env.clients.kms.send(
          new CreateKeyCommand({ Tags: stack ? [{ TagKey: 'apiloadtest:stack', TagValue: stack }] : [] }),
        )
      ).KeyMetadata?.KeyId as string;
    const orphan = await keyTagged(runtime.config.stackName);
    const otherStack = await keyTagged('apiloadtest-other');
    const untagged = await keyTagged('');
    env.kmsSecrets.injectThrottling({ operation: 'DeleteSecret', count: 1 });
    env.kmsSecrets.injectThrottling({ operation: 'ListResourceTags', count: 1 });
    const first = await handler({});
    expect(first).toMatchObject({
      usersDeleted: 3,
      secretsDeleted: 1,
      key: { keyId: plan.keyId, scheduled: true },
      orphanKeysScheduled: 1,
      keyScanComplete: true,
    });
    expect(env.kmsSecrets.keyState(plan.keyId)?.state).toBe('PendingDeletion');
    expect(env.kmsSecrets.keyState(orphan)?.state).toBe('PendingDeletion');
    expect(env.kmsSecrets.keyState(otherStack)?.state).toBe('Enabled');
    expect(env.kmsSecrets.keyState(untagged)?.state).toBe('Enabled');
    const users = await env.clients.cognito.send(new ListUsersCommand({ UserPoolId: env.stack.userPoolId }));
    expect(users.Users).toEqual([]);
    expect(env.kmsSecrets.secretNames()).toEqual([]);
    expect(await handler({})).toEqual({
      usersDeleted: 0,
      usersSkippedNotOurs: 0,
      usersRemaining: 0,
      secretsDeleted: 0,
      key: { keyId: null, scheduled: false, deletionDate: null },
      orphanKeysScheduled: 0,
      keyScanComplete: true,
    });
  });

  it('cleanup refuses a misspelt field instead of deleting every test user', async () => {
    const handler = cleanupHandler(() => runtime);
    const before = new Map(env.kmsSecrets.calls);
    await expect(handler({ NumberOfUser: '1' })).rejects.toMatchObject({ name: 'InvalidInput', field: 'NumberOfUser' });
    expect(env.kmsSecrets.calls).toEqual(before);
  });
});
