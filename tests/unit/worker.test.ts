import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminInitiateAuthCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseRunInput } from '../../src/lib/input';
import { runLoad } from '../../src/lib/load/engine';
import { decodeHistogram } from '../../src/lib/load/histogram';
import { compileSingle } from '../../src/lib/load/scenario';
import type { WorkerSummary } from '../../src/lib/load/summary';
import { buildPlan } from '../../src/lib/plan';
import { runWorker } from '../../src/lib/worker';
import { awsError } from '../helpers';

/** A real loopback server that records what it receives; `respond` picks the status. */
async function recordingServer(respond: (n: number) => number = () => 200) {
  const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<unknown>();
  const server: Server = createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let body = '';
    for await (const chunk of req) body += chunk;
    const status = respond(seen.push({ method: req.method, url: req.url, headers: req.headers, body }));
    await new Promise((r) => setTimeout(r, 2));
    inFlight--;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/base`),
    seen,
    sockets,
    maxInFlight: () => maxInFlight,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('runWorker against a real loopback server', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const sm = mockClient(SecretsManagerClient);
  const s3 = mockClient(S3Client);
  let server: Awaited<ReturnType<typeof recordingServer>>;

  beforeEach(async () => {
    cognito.reset();
    sm.reset();
    s3.reset();
    server = await recordingServer();
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser3: 'Pw-for-user-3!aA' } }),
    });
    cognito
      .on(AdminInitiateAuthCommand)
      .resolves({ AuthenticationResult: { AccessToken: 'token-3', RefreshToken: 'refresh-3', ExpiresIn: 3600 } });
    s3.on(PutObjectCommand).resolves({});
  });
  afterEach(() => server.close());

  const deps = () => ({
    pool: { client: new CognitoIdentityProviderClient({}), userPoolId: 'pool', clientId: 'client' },
    secrets: new SecretsManagerClient({}),
    results: { client: new S3Client({}), bucket: 'results' },
    secretPrefix: 's/test-users/',
    target: server.url,
    retry: { sleep: async () => {} },
  });

  /** Plans a run of `input` and runs its user 3 alone (the secret and login above are user 3's). */
  const runUser3 = (input: unknown) =>
    runWorker(
      {
        firstUser: 3,
        lastUser: 4,
        settings: buildPlan(parseRunInput(input), 'run-1', 'key', 800).worker,
        armedAt: new Date().toISOString(),
      },
      deps(),
    );

  it('sends exactly NumberOfCallsPerUser requests, each with the bearer token, within the concurrency bound', async () => {
    const result = await runUser3({
      users: { NumberOfUsers: 5, NumberOfCallsPerUser: 37, ConcurrencyPerUser: 4, StartDelaySeconds: 0 },
      request: { path: '/items' },
    });
    expect(result).toEqual({ firstUser: 3, users: 1, total: 37, ok: 37, failed: 0 });
    expect(server.seen).toHaveLength(37);
    for (const request of server.seen) {
      expect(request.headers.authorization).toBe('Bearer token-3');
      expect(request.url).toBe('/base/items');
    }
    expect(server.maxInFlight()).toBeLessThanOrEqual(4);
    expect(server.sockets.size).toBeLessThanOrEqual(4);
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input.SecretId).toBe('s/test-users/shard-00000');
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toBe('runs/run-1/users/00003.json');
    const summary = JSON.parse(String(put?.Body)) as WorkerSummary;
    expect(summary.counters).toMatchObject({ total: 37, ok: 37, failed: 0, statusCodes: { '200': 37 } });
    expect(String(put?.Body)).not.toContain('Pw-for-user-3');
    expect(String(put?.Body)).not.toContain('token-3');
  });

  it.each([
    ['iterations', { model: 'iterations', iterations: 50, concurrency: 3 }],
    ['duration', { model: 'duration', durationSeconds: 1, concurrency: 3 }],
    ['rate', { model: 'rate', ratePerSecond: 40, durationSeconds: 1, maxInFlight: 4 }],
    ['stages', { model: 'stages', stages: [{ durationSeconds: 1, target: 60 }], maxInFlight: 4 }],
  ])('%s: the worker counts exactly what the target received, and its summary says the same', async (_m, load) => {
    const result = await runUser3({
      users: { NumberOfUsers: 5, StartDelaySeconds: 0 },
      load,
      request: { path: '/items' },
    });
    expect(server.seen.length).toBeGreaterThan(0);
    expect(result).toEqual({ firstUser: 3, users: 1, total: server.seen.length, ok: server.seen.length, failed: 0 });
    const summary = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body)) as WorkerSummary;
    expect(summary.counters).toMatchObject({ total: server.seen.length, responses: server.seen.length, notSent: 0 });
    expect(decodeHistogram(summary.histogram).totalCount).toBe(server.seen.length);
  });

  /** Users 99 (shard 0), 100 and 101 (shard 1), each with its own token. */
  const usersAcrossTwoShards = () => {
    sm.on(GetSecretValueCommand, { SecretId: 's/test-users/shard-00000' }).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser99: 'Pw-99!aA-xxxxxxxxxxx' } }),
    });
    sm.on(GetSecretValueCommand, { SecretId: 's/test-users/shard-00001' }).resolves({
      SecretString: JSON.stringify({
        users: { loadtestuser100: 'Pw-100!aA-xxxxxxxxxx', loadtestuser101: 'Pw-101!aA-xxxxxxxxxx' },
      }),
    });
    cognito.on(AdminInitiateAuthCommand).callsFake(async (input) => ({
      AuthenticationResult: {
        AccessToken: `token-of-${input.AuthParameters.USERNAME}`,
        RefreshToken: 'r',
        ExpiresIn: 3600,
      },
    }));
  };

  it('runs several users in one worker, each with its own login, across shard secrets', async () => {
    usersAcrossTwoShards();
    const input = { users: { NumberOfUsers: 300, NumberOfCallsPerUser: 4, UsersPerWorker: 3, StartDelaySeconds: 0 } };
    const plan = buildPlan(parseRunInput(input), 'run-2', 'k', 800);
    // The group ends at 101, so this worker runs 99, 100 and 101; a worker at 100 would stop at 101 too.
    const result = await runWorker(
      { firstUser: 99, lastUser: 101, settings: plan.worker, armedAt: new Date().toISOString() },
      deps(),
    );
    expect(result).toEqual({ firstUser: 99, users: 3, total: 12, ok: 12, failed: 0 });
    const byToken = new Map<string, number>();
    for (const r of server.seen)
      byToken.set(String(r.headers.authorization), (byToken.get(String(r.headers.authorization)) ?? 0) + 1);
    expect(Object.fromEntries(byToken)).toEqual({
      'Bearer token-of-loadtestuser99': 4,
      'Bearer token-of-loadtestuser100': 4,
      'Bearer token-of-loadtestuser101': 4,
    });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(
      s3
        .commandCalls(PutObjectCommand)
        .map((c) => c.args[0].input.Key)
        .sort(),
    ).toEqual(['runs/run-2/users/00099.json', 'runs/run-2/users/00100.json', 'runs/run-2/users/00101.json']);
    const short = await runWorker(
      { firstUser: 100, lastUser: 101, settings: plan.worker, armedAt: new Date().toISOString() },
      deps(),
    );
    expect(short.users).toBe(2);
  });

  it("a flow with {{username}}: every path names the user whose token it carries; data rows come from each user's shard file", async () => {
    usersAcrossTwoShards();
    // What the plan step wrote: rows of 3 cities, user i gets row i mod 3.
    const cities = ['Oslo', 'Lima', 'Pune'];
    const shardFile = (shard: number) => ({
      firstUser: shard * 100,
      rows: Array.from({ length: 100 }, (_, j) => ({ city: cities[(shard * 100 + j) % 3] })),
    });
    for (const shard of [0, 1]) {
      s3.on(GetObjectCommand, { Key: `runs/run-3/data/shard-0000${shard}.json` }).resolves({
        Body: { transformToString: async () => JSON.stringify(shardFile(shard)) } as never,
      });
    }
    const input = parseRunInput({
      users: { NumberOfUsers: 300, UsersPerWorker: 3, StartDelaySeconds: 0 },
      load: { model: 'iterations', iterations: 2, concurrency: 1 },
      flow: true,
      requests: [
        { name: 'list', path: '/users/{{username}}/items' },
        { name: 'get', path: '/users/{{username}}/items/{{iteration}}', headers: { 'x-city': '{{data.city}}' } },
      ],
      data: { key: 'data/users.csv' },
    });
    const plan = buildPlan(input, 'run-3', 'k', 800, 3);
    const result = await runWorker(
      { firstUser: 99, lastUser: 101, settings: plan.worker, armedAt: new Date().toISOString() },
      deps(),
    );
    expect(result).toMatchObject({ users: 3, total: 12, ok: 12 });
    expect(server.seen).toHaveLength(12);
    for (const r of server.seen) {
      const user = /^\/base\/users\/(loadtestuser\d+)\/items/.exec(String(r.url))?.[1];
      expect(r.headers.authorization).toBe(`Bearer token-of-${user}`);
    }
    const perUser = (user: string) =>
      server.seen
        .filter((r) => r.headers.authorization === `Bearer token-of-${user}`)
        .map((r) => [r.url, r.headers['x-city'] ?? null]);
    // In order within each user: list, then get, for iterations 0 and 1; the city is the user's row.
    expect(perUser('loadtestuser100')).toEqual([
      ['/base/users/loadtestuser100/items', null],
      ['/base/users/loadtestuser100/items/0', 'Lima'],
      ['/base/users/loadtestuser100/items', null],
      ['/base/users/loadtestuser100/items/1', 'Lima'],
    ]);
    expect(perUser('loadtestuser99').map(([, city]) => city)).toEqual([null, 'Oslo', null, 'Oslo']);
    expect(perUser('loadtestuser101').map(([, city]) => city)).toEqual([null, 'Pune', null, 'Pune']);
    // Each shard file read once, only this worker's shards (the stop switch's polls read its marker besides).
    expect(
      s3
        .commandCalls(GetObjectCommand)
        .map((c) => String(c.args[0].input.Key))
        .filter((key) => key.includes('/data/'))
        .sort(),
    ).toEqual(['runs/run-3/data/shard-00000.json', 'runs/run-3/data/shard-00001.json']);
    const summaries = s3
      .commandCalls(PutObjectCommand)
      .map((c) => JSON.parse(String(c.args[0].input.Body)) as WorkerSummary);
    for (const summary of summaries) {
      expect(Object.keys(summary.byName ?? {})).toEqual(['list', 'get']);
      expect(summary.byName?.get?.counters).toMatchObject({ total: 2, ok: 2 });
      expect(decodeHistogram(String(summary.byName?.get?.histogram)).totalCount).toBe(2);
    }
  });

  it('waits for the start barrier', async () => {
    const plan = buildPlan(
      parseRunInput({ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1, StartDelaySeconds: 30 } }),
      'r',
      'k',
      800,
    );
    const waits: number[] = [];
    const armedAt = new Date(Date.now()).toISOString();
    await runWorker(
      { firstUser: 3, lastUser: 4, settings: plan.worker, armedAt },
      { ...deps(), wait: async (ms) => void waits.push(ms) },
    );
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(29_000);
  });

  it('refuses to run without its credentials', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ users: {} }) });
    const plan = buildPlan(parseRunInput({ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 } }), 'r', 'k', 800);
    await expect(
      runWorker({ firstUser: 3, lastUser: 4, settings: plan.worker, armedAt: new Date().toISOString() }, deps()),
    ).rejects.toMatchObject({
      name: 'CredentialsNotFound',
    });
    expect(server.seen).toHaveLength(0);
  });

  /** loadtestuser0 logs in with a token already inside the 5-minute refresh margin. */
  const givenATokenAboutToExpire = () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser0: 'Pw-0!aA-xxxxxxxxxxxx' } }),
    });
    cognito
      .on(AdminInitiateAuthCommand, { AuthFlow: 'ADMIN_USER_PASSWORD_AUTH' })
      .resolves({ AuthenticationResult: { AccessToken: 'old', RefreshToken: 'r', ExpiresIn: 60 } });
  };

  it('refreshes the access token before it expires, once for concurrent requests', async () => {
    givenATokenAboutToExpire();
    cognito
      .on(AdminInitiateAuthCommand, { AuthFlow: 'REFRESH_TOKEN_AUTH' })
      .resolves({ AuthenticationResult: { AccessToken: 'new', ExpiresIn: 3600 } });
    const input = { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 6, ConcurrencyPerUser: 3, StartDelaySeconds: 0 } };
    const plan = buildPlan(parseRunInput(input), 'r', 'k', 800);
    await runWorker({ firstUser: 0, lastUser: 0, settings: plan.worker, armedAt: new Date().toISOString() }, deps());
    expect(server.seen.map((r) => r.headers.authorization)).toEqual(Array(6).fill('Bearer new'));
    const refreshes = cognito
      .commandCalls(AdminInitiateAuthCommand)
      .filter((c) => c.args[0].input.AuthFlow === 'REFRESH_TOKEN_AUTH');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.args[0].input.AuthParameters).toEqual({ REFRESH_TOKEN: 'r' });
    const summary = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body));
    expect(summary.tokenRefreshes).toBe(1);
  });

  it('keeps sending with the current token when a refresh fails, and counts the failure', async () => {
    givenATokenAboutToExpire();
    cognito
      .on(AdminInitiateAuthCommand, { AuthFlow: 'REFRESH_TOKEN_AUTH' })
      .rejects(awsError('NotAuthorizedException'));
    const input = { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 5, StartDelaySeconds: 0 } };
    const plan = buildPlan(parseRunInput(input), 'r', 'k', 800);
    const result = await runWorker(
      { firstUser: 0, lastUser: 0, settings: plan.worker, armedAt: new Date().toISOString() },
      deps(),
    );
    expect(result.total).toBe(5);
    expect(server.seen.map((r) => r.headers.authorization)).toEqual(Array(5).fill('Bearer old'));
    const summary = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body));
    expect(summary).toMatchObject({ tokenRefreshes: 0, tokenRefreshFailures: 1 });
  });
});

describe('runLoad', () => {
  const request = {
    method: 'POST' as const,
    path: '/x',
    headers: { 'x-test': '1' },
    body: '{"a":1}',
    timeoutMs: 2_000,
  };

  it('counts non-2xx/3xx responses as failed, by status code', async () => {
    const server = await recordingServer((n) => (n % 4 === 0 ? 503 : n % 4 === 1 ? 302 : 200));
    try {
      const result = await runLoad({
        target: server.url,
        scenario: compileSingle(request),
        load: { model: 'iterations', iterations: 20, concurrency: 2 },
        token: async () => 't',
      });
      expect(result.counters.total).toBe(20);
      expect(result.counters.ok + result.counters.failed).toBe(20);
      expect(result.counters.statusCodes['503']).toBe(5);
      expect(result.counters.failed).toBe(5);
      expect(server.seen.every((r) => r.method === 'POST' && r.body === '{"a":1}' && r.headers['x-test'] === '1')).toBe(
        true,
      );
      expect(result.latency.histogram.totalCount).toBe(20);
    } finally {
      await server.close();
    }
  });

  it('sends nothing past its deadline and counts what it did not send', async () => {
    const server = await recordingServer();
    try {
      let clock = 1_000;
      const result = await runLoad({
        target: server.url,
        scenario: compileSingle(request),
        load: { model: 'iterations', iterations: 10, concurrency: 1 },
        token: async () => 't',
        deadline: 1_004,
        // Each request moves the clock by one "ms": four fit before the deadline.
        now: () => clock++,
      });
      expect(result.counters).toMatchObject({ total: server.seen.length, notSent: 10 - server.seen.length });
      expect(server.seen.length).toBeGreaterThan(0);
      expect(server.seen.length).toBeLessThan(10);
    } finally {
      await server.close();
    }
  });

  it('counts transport errors under errors, not as responses', async () => {
    const server = await recordingServer();
    const url = server.url;
    await server.close();
    const result = await runLoad({
      target: url,
      scenario: compileSingle(request),
      load: { model: 'iterations', iterations: 3, concurrency: 1 },
      token: async () => 't',
    });
    expect(result.counters).toMatchObject({ total: 3, ok: 0, failed: 3, errors: { ECONNREFUSED: 3 }, statusCodes: {} });
  });

  it('counts a slow response as a timeout', async () => {
    const slow = createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const { port } = slow.address() as AddressInfo;
    try {
      const result = await runLoad({
        target: new URL(`http://127.0.0.1:${port}/`),
        scenario: compileSingle({ ...request, timeoutMs: 100 }),
        load: { model: 'iterations', iterations: 2, concurrency: 2 },
        token: async () => 't',
      });
      expect(result.counters).toMatchObject({ total: 2, failed: 2, errors: { timeout: 2 } });
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });
});
