import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { createClients } from '../../src/lib/aws/clients';
import { createRuntime, type Runtime } from '../../src/lib/deps';
import { setLogSink } from '../../src/lib/log';
import { localHandlerEnv } from '../../src/local/environment';
import { type InvocationEvent, runStateMachine } from '../../src/local/workflow-runner';

/** Accepts connections and never answers: every AWS call the handler makes hangs. */
let server: Server;
const sockets = new Set<Socket>();
let runtime: Runtime;

beforeAll(async () => {
  setLogSink(() => {});
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = createClients({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    endpoints: { cognito: endpoint, kms: endpoint, secrets: endpoint, s3: endpoint },
  });
  runtime = createRuntime(
    localHandlerEnv({ userPoolId: 'us-east-1_hang', clientId: 'hang', bucket: 'hang' }, 'http://127.0.0.1:9/'),
    clients,
  );
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
  for (const client of Object.values(runtime.clients)) client.destroy();
  setLogSink(undefined);
});

const run = (timeouts: Parameters<typeof runStateMachine>[2]['timeouts'], invocations: InvocationEvent[]) =>
  runStateMachine(
    'deleteTestUsers',
    {},
    {
      runtime: () => runtime,
      executionName: `hang-${invocations.length}-${Date.now()}`,
      onInvoke: (event) => invocations.push(event),
      timeouts,
    },
  );

describe('the local runner ends a hanging handler as AWS would', () => {
  it("at the function's timeout: Lambda.Unknown, 'Task timed out' (deleteTestUsers: 900 s, scaled to 0.45 s)", async () => {
    const invocations: InvocationEvent[] = [];
    const startedAt = Date.now();
    const outcome = await run({ scale: 0.0005 }, invocations);
    const elapsed = Date.now() - startedAt;
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'Lambda.Unknown' });
    expect(outcome.status === 'FAILED' && outcome.cause).toContain('Task timed out after 900.00 seconds');
    // Lambda.Unknown is not in the state's Retry list: one invocation, then CleanupFailed.
    expect(invocations.filter((e) => e.phase === 'start')).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(400);
    expect(elapsed).toBeLessThan(5000);
  });

  it("at the Task's TimeoutSeconds when that comes first: States.Timeout, retried as the ASL says", async () => {
    const invocations: InvocationEvent[] = [];
    // The function may run 2000 s (0.4 s scaled); the Task allows 960 s (0.19 s scaled).
    const outcome = await run({ scale: 0.0002, functionSeconds: { deleteTestUsers: 2000 } }, invocations);
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });
    // DeleteTestUsers retries States.Timeout up to 3 times: 4 invocations in all.
    expect(invocations.filter((e) => e.phase === 'start')).toHaveLength(4);
  });
});
