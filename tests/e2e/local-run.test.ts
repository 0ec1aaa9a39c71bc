import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { ListUsersCommand } from '@aws-sdk/client-cognito-identity-provider';
import { getJson, listKeys } from '../../src/lib/aws/results';
import { setLogSink } from '../../src/lib/log';
import type { Report } from '../../src/lib/report/report';
import type { LocalEnvironment } from '../../src/local/environment';
import { JwtVerifier } from '../../src/local/jwt-verifier';
import { type LocalRunResult, runLocal } from '../../src/local/local-run';
import { startSampleApi } from '../../src/local/sample-api';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portOpen = (endpoint: string): Promise<boolean> =>
  new Promise((resolve) => {
    const url = new URL(endpoint);
    const socket = connect(Number(url.port), url.hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Waits for a child that was just told to stop. */
async function eventuallyDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return !isAlive(pid);
}

beforeAll(() => setLogSink(() => {}));
afterAll(() => setLogSink(undefined));

describe('npm run local, end to end (5 users × 10 calls)', () => {
  let result: LocalRunResult;
  let environment: LocalEnvironment | undefined;
  const after: { users: number; secrets: string[]; keyState: string | undefined } = {
    users: -1,
    secrets: ['?'],
    keyState: undefined,
  };
  let keyId = '';
  let workers = 0;

  beforeAll(async () => {
    result = await runLocal({
      users: 5,
      calls: 10,
      concurrency: 2,
      // Three workers (2 + 2 + 1 users): the fan-out's users-per-worker path runs too.
      usersPerWorker: 2,
      onProgress: (p) => {
        workers = p.workers;
      },
      onReady: (env) => {
        environment = env;
      },
      onFinished: async (env) => {
        const users = await env.clients.cognito.send(new ListUsersCommand({ UserPoolId: env.stack.userPoolId }));
        after.users = users.Users?.length ?? -1;
        after.secrets = env.kmsSecrets.secretNames();
      },
    });
    // The emulator's state outlives its server: read the key the cleanup reported.
    keyId = result.cleanup?.key.keyId ?? '';
    after.keyState = environment?.kmsSecrets.keyState(keyId)?.state;
  });

  it('reports every request: 50 sent, 50 ok, 5 users', () => {
    expect(result.failure).toBeUndefined();
    expect(result.report).toMatchObject({
      users: 5,
      callsPerUser: 10,
      requests: { total: 50, ok: 50, failed: 0 },
      statusCodes: { '200': 50 },
    });
    expect(result.report?.workers).toMatchObject({ expected: 3, users: 5, usersReported: 5, failed: 0 });
    expect(workers).toBe(3);
    expect(result.report?.latencyMs?.p50).toBeGreaterThan(0);
    expect(result.report?.thresholds.passed).toBe(true);
  });

  it('the sample API saw exactly those requests, all with valid tokens, 10 per user', () => {
    expect(result.api?.total).toBe(50);
    expect(result.api?.rejected).toBe(0);
    expect(Object.fromEntries(result.api?.byUser ?? [])).toEqual({
      loadtestuser0: 10,
      loadtestuser1: 10,
      loadtestuser2: 10,
      loadtestuser3: 10,
      loadtestuser4: 10,
    });
  });

  it('cleanup leaves no users, no secrets, and the key pending deletion', () => {
    expect(result.cleanup).toMatchObject({ usersDeleted: 5, secretsDeleted: 1, key: { scheduled: true } });
    expect(after.users).toBe(0);
    expect(after.secrets).toEqual([]);
    expect(keyId).not.toBe('');
    expect(after.keyState).toBe('PendingDeletion');
  });

  it('leaves no emulator process or port behind', async () => {
    expect(environment).toBeDefined();
    for (const pid of environment?.pids ?? []) expect(await eventuallyDead(pid)).toBe(true);
    for (const endpoint of Object.values(environment?.endpoints ?? {})) expect(await portOpen(endpoint)).toBe(false);
  });
});

describe('provisioning progress (10 users)', () => {
  it('advances user by user, not only per shard of 100, and ends at the shard results', async () => {
    const seen: { provisioned: number; created: number; reused: number }[] = [];
    const result = await runLocal({
      users: 10,
      calls: 1,
      onProgress: (p) => {
        if (p.phase === 'provisioning')
          seen.push({ provisioned: p.usersProvisioned, created: p.usersCreated, reused: p.usersReused });
      },
    });
    expect(result.failure).toBeUndefined();
    const values = [...new Set(seen.map((s) => s.provisioned))];
    // One shard of 10 users: a count per shard would go from 0 straight to 10.
    expect(values.filter((v) => v > 0 && v < 10).length).toBeGreaterThanOrEqual(5);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(seen.at(-1)).toEqual({ provisioned: 10, created: 10, reused: 0 });
    for (const s of seen) expect(s.created + s.reused).toBe(s.provisioned);
  });
});

describe('tokens the API refuses', () => {
  it('counts every 401 as failed, and fails the run when thresholds say so', async () => {
    // A protected API that expects another audience: every Cognito token of the run is refused.
    let api: Awaited<ReturnType<typeof startSampleApi>> | undefined;
    let issuer = '';
    const verifier = {
      verify: (header: string | undefined) =>
        new JwtVerifier({ issuer, audience: 'another-client', jwksUrl: `${issuer}/.well-known/jwks.json` }).verify(
          header,
        ),
    } as JwtVerifier;
    api = await startSampleApi(verifier);
    try {
      const result = await runLocal({
        users: 2,
        calls: 5,
        target: api.url,
        thresholds: { maxErrorRate: 0.5 },
        onReady: (env) => {
          issuer = env.stack.issuer;
        },
      });
      expect(result.report?.requests).toMatchObject({ total: 10, responses: 10, ok: 0, failed: 10, notSent: 0 });
      expect(result.report?.statusCodes).toEqual({ '401': 10 });
      expect(api.stats.rejections.get('wrong audience')).toBe(10);
      expect(result.failure?.error).toBe('ThresholdsFailed');
      expect(result.failure?.cause).toContain('error rate 100.00 % > 50 %');
      expect(result.cleanup?.usersDeleted).toBe(2);
    } finally {
      await api?.stop();
    }
  });
});

describe('--target: another loopback server', () => {
  it('receives exactly users × calls requests, calls per user, each with a Cognito access token', async () => {
    const perUser = new Map<string, number>();
    const problems: string[] = [];
    let issuerPrefix = '';
    const server: Server = createServer((req, res) => {
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}');
      if (claims.token_use !== 'access' || !String(claims.iss).startsWith(issuerPrefix))
        problems.push(JSON.stringify(claims));
      perUser.set(claims.username, (perUser.get(claims.username) ?? 0) + 1);
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await runLocal({
        users: 3,
        calls: 7,
        target: `http://127.0.0.1:${port}/api`,
        onReady: (env) => {
          issuerPrefix = env.stack.issuer;
        },
      });
      expect(result.report?.requests).toMatchObject({ total: 21, responses: 21, ok: 21, failed: 0, notSent: 0 });
      expect(Object.fromEntries(perUser)).toEqual({ loadtestuser0: 7, loadtestuser1: 7, loadtestuser2: 7 });
      expect(problems).toEqual([]);
      expect(result.api).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('a run that fails', () => {
  it('still stops every emulator and frees every port', async () => {
    let environment: LocalEnvironment | undefined;
    await expect(
      runLocal({
        users: 1,
        calls: 1,
        onReady: (env) => {
          environment = env;
          throw new Error('injected failure');
        },
      }),
    ).rejects.toThrow('injected failure');
    expect(environment).toBeDefined();
    for (const pid of environment?.pids ?? []) expect(await eventuallyDead(pid)).toBe(true);
    for (const endpoint of Object.values(environment?.endpoints ?? {})) expect(await portOpen(endpoint)).toBe(false);
  });

  it('reports invalid input as a failed execution naming the field, and creates nothing', async () => {
    let keys = -1;
    const result = await runLocal({
      users: 1,
      calls: 1,
      request: { path: 'no-slash' },
      keep: true,
      onFinished: (env) => {
        keys = env.kmsSecrets.calls.get('TrentService.CreateKey') ?? 0;
      },
    });
    expect(result.failure?.error).toBe('InvalidInput');
    expect(result.failure?.cause).toContain('request.path');
    expect(result.report).toBeUndefined();
    expect(keys).toBe(0);
  });
});

describe('a worker that cannot write its summary', () => {
  it('still gets a report.json that names the worker and counts its requests, and the run fails with WorkersFailed', async () => {
    let stored: Report | undefined;
    const result = await runLocal({
      users: 3,
      calls: 4,
      onReady: (env) => {
        // The results bucket refuses user 1's summary (and only that object), as a broken S3 call would.
        env.clients.s3.middlewareStack.add(
          (next) => async (args) => {
            const input = args.input as { Key?: string };
            if (String(input.Key).endsWith('/users/00001.json'))
              throw Object.assign(new Error('denied'), { name: 'AccessDenied' });
            return next(args);
          },
          { step: 'initialize', name: 'failUserOneSummary' },
        );
      },
      onFinished: async (env) => {
        const runtime = { client: env.clients.s3, bucket: env.stack.bucket };
        const keys = await listKeys(runtime, 'runs/');
        const reportKey = keys.find((k) => k.endsWith('/report.json'));
        if (reportKey) stored = await getJson<Report>(runtime, reportKey);
      },
    });
    expect(result.failure?.error).toBe('WorkersFailed');
    expect(stored?.verdict.error).toBe('WorkersFailed');
    // User 1's requests reached the target and are in the report, from the counts its error carried.
    expect(stored?.requests).toMatchObject({ total: 12, responses: 12, ok: 12 });
    expect(stored?.workers).toMatchObject({ failed: 1, usersReported: 2, usersCountedFromErrors: 1, usersUnknown: 0 });
    expect(stored?.workers.failures).toEqual([
      expect.objectContaining({ firstUser: 1, lastUser: 1, error: 'SummaryNotSaved', usersCounted: 1 }),
    ]);
    expect(result.api?.total).toBe(12);
    expect(result.cleanup?.usersDeleted).toBe(3);
  });
});
