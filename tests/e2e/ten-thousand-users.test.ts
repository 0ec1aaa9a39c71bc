import type { AggregateTask } from '../../src/lib/aggregate';
import { createClients } from '../../src/lib/aws/clients';
import { createRuntime, type Runtime } from '../../src/lib/deps';
import { setLogSink } from '../../src/lib/log';
import type { ShardTask } from '../../src/lib/provision';
import type { WorkerTask } from '../../src/lib/worker';
import { localHandlerEnv } from '../../src/local/environment';
import { KmsSecretsEmulator } from '../../src/local/kms-secrets-emulator';
import { type ExecutionEvent, type Handler, runStateMachine } from '../../src/local/workflow-runner';

/** Step Functions' own limit is 256 KiB per state; we keep a four-fold margin. */
const LIMIT = 64 * 1024;
const USERS = 10_000;
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));

interface Sizes {
  /** Largest input and output seen per state name, in bytes. */
  readonly states: Map<string, { input: number; output: number; entered: number; exited: number }>;
  invocations: Map<string, number>;
}

/**
 * The real createUsersAndFanOut definition for 10,000 users, run by the local runner with the real
 * Plan handler (against the local KMS emulator) and fast stand-ins for Provision, the workers and
 * Aggregate: what is measured is the state the definition itself carries from state to state.
 */
describe('createUsersAndFanOut for 10,000 users', () => {
  const kms = new KmsSecretsEmulator();
  let endpoint: string;

  beforeAll(async () => {
    setLogSink(() => {});
    endpoint = await kms.start();
  });
  afterAll(async () => {
    setLogSink(undefined);
    await kms.stop();
  });

  const standIns: Record<'provisionUsers' | 'runWorker' | 'aggregateResults', Handler> = {
    provisionUsers: async (event) => {
      const task = event as ShardTask;
      return { shard: task.shard, created: task.to - task.from + 1, reused: 0, skipped: 0 };
    },
    // The library forwards a nested Map's events to the root asynchronously and drops those that arrive
    // after the enclosing iteration ended: a worker that yields to the event loop, as every real one
    // does, lets them through. Every state entered must also be seen to exit (asserted below).
    runWorker: async (event) => {
      const task = event as WorkerTask;
      await new Promise((resolve) => setImmediate(resolve));
      const users = Math.min(task.settings.usersPerWorker, task.lastUser - task.firstUser + 1);
      return { firstUser: task.firstUser, users, total: users, ok: users, failed: 0 };
    },
    aggregateResults: async (event) => {
      const task = event as AggregateTask;
      // Likewise for the root: the last forwarded events land before the execution ends.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { report: { runId: task.runId, users: task.users }, verdict: { passed: true } };
    },
  };

  async function run(maxConcurrentWorkers: number): Promise<Sizes & { status: string }> {
    const env = {
      ...localHandlerEnv({ userPoolId: 'us-east-1_local', clientId: 'client', bucket: 'bucket' }, 'http://127.0.0.1:1'),
      LOADTEST_MAX_CONCURRENT_WORKERS: String(maxConcurrentWorkers),
    };
    const clients = createClients({
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      endpoints: { kms: endpoint },
    });
    const runtime: Runtime = createRuntime(env, clients);
    const sizes: Sizes = { states: new Map(), invocations: new Map() };
    const record = (event: ExecutionEvent) => {
      if (event.type !== 'StateEntered' && event.type !== 'StateExited') return;
      const entry = sizes.states.get(event.state.name) ?? { input: 0, output: 0, entered: 0, exited: 0 };
      entry.input = Math.max(entry.input, bytes(event.state.input));
      if (event.type === 'StateEntered') entry.entered++;
      else {
        entry.exited++;
        entry.output = Math.max(entry.output, bytes(event.state.output));
      }
      sizes.states.set(event.state.name, entry);
    };
    try {
      const outcome = await runStateMachine(
        'createUsersAndFanOut',
        { users: { NumberOfUsers: String(USERS), NumberOfCallsPerUser: '100' } },
        {
          runtime: () => runtime,
          executionName: `ten-thousand-${maxConcurrentWorkers}`,
          handlers: standIns,
          onEvent: record,
          onInvoke: (event) => {
            if (event.phase === 'end')
              sizes.invocations.set(event.state, (sizes.invocations.get(event.state) ?? 0) + 1);
          },
        },
      );
      return { ...sizes, status: outcome.status };
    } finally {
      clients.kms.destroy();
    }
  }

  const report = (label: string, sizes: Sizes) => {
    const lines = [...sizes.states.entries()].map(
      ([name, s]) =>
        `  ${name.padEnd(20)} entered ${String(s.entered).padStart(6)}  max in ${s.input} B  max out ${s.output} B`,
    );
    console.log(`${label}\n${lines.join('\n')}`);
  };

  it.each([
    [800, 'the default Lambda budget: 13 users per worker', 770, 20],
    [10_000, 'one user per worker', 10_000, 250],
  ])('keeps every state under 64 KiB with a budget of %i workers (%s)', async (budget, label, workers, groups) => {
    const sizes = await run(budget);
    report(`10,000 users, ${label}:`, sizes);
    expect(sizes.status).toBe('SUCCEEDED');
    expect(sizes.invocations.get('ProvisionShard')).toBe(100);
    expect(sizes.invocations.get('RunWorker')).toBe(workers);
    // Every state of a successful run was measured on entry and exit, every time it ran (the Fail states
    // and RecordWorkerFailure do not run here).
    const times = Object.fromEntries([...sizes.states].map(([name, s]) => [name, [s.entered, s.exited]]));
    expect(times).toEqual({
      Plan: [1, 1],
      Provision: [1, 1],
      ProvisionShard: [100, 100],
      Arm: [1, 1],
      FanOut: [1, 1],
      ExpandGroup: [groups, groups],
      Workers: [groups, groups],
      RunWorker: [workers, workers],
      GroupDone: [groups, groups],
      Aggregate: [1, 1],
      Verdict: [1, 1],
      Passed: [1, 1],
    });
    const over = [...sizes.states].filter(([, s]) => s.input >= LIMIT || s.output >= LIMIT).map(([name]) => name);
    expect(over).toEqual([]);
  });
});
