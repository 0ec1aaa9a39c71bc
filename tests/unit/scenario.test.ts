import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseCsv, parseDataFile, parseJsonRows, shardRows } from '../../src/lib/data';
import { InvalidInputError } from '../../src/lib/errors';
import { parseRunInput } from '../../src/lib/input';
import { runLoad } from '../../src/lib/load/engine';
import { compileScenario, type Scenario } from '../../src/lib/load/scenario';
import { compileTemplate, expand, parseTemplate, seededRandom } from '../../src/lib/load/template';

const users = { NumberOfUsers: 1, NumberOfCallsPerUser: 1 };

/** The InvalidInputError's field for this input, or undefined when it parses. */
function fieldOf(input: Record<string, unknown>): string | undefined {
  try {
    parseRunInput({ users, ...input });
    return undefined;
  } catch (error) {
    if (error instanceof InvalidInputError) return error.field;
    throw error;
  }
}

async function recordingServer(status: (url: string) => number = () => 200) {
  const seen: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const srv: Server = createServer(async (req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    let body = '';
    for await (const chunk of req) body += chunk;
    const url = req.url ?? '';
    seen.push({ url, headers: req.headers, body });
    res.statusCode = status(url);
    res.end('{}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/api`),
    seen,
    maxInFlight: () => maxInFlight,
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

describe('requests and flow: input validation names the field', () => {
  it.each([
    [{ request: { path: '/a' }, requests: [{ name: 'a' }] }, 'requests'],
    [{ requests: [] }, 'requests'],
    [{ requests: Array.from({ length: 21 }, (_, i) => ({ name: `r${i}` })) }, 'requests'],
    [{ requests: [{ path: '/a' }] }, 'requests[0].name'],
    [{ requests: [{ name: 'has space' }] }, 'requests[0].name'],
    [{ requests: [{ name: 'a' }, { name: 'a' }] }, 'requests[1].name'],
    [{ requests: [{ name: 'a' }, { name: 'b', path: 'nope' }] }, 'requests[1].path'],
    [{ requests: [{ name: 'a', weight: 0 }] }, 'requests[0].weight'],
    [{ requests: [{ name: 'a', weight: 'x' }] }, 'requests[0].weight'],
    [{ flow: true, requests: [{ name: 'a', weight: 2 }] }, 'requests[0].weight'],
    [{ flow: true }, 'flow'],
    [{ flow: 'yes', requests: [{ name: 'a' }] }, 'flow'],
    [{ requests: [{ name: 'a', colour: 1 }] }, 'requests[0].colour'],
    [{ requests: [{ name: 'a', method: 'GET', body: 'x' }] }, 'requests[0].body'],
    [{ requests: [{ name: 'a', path: '/{{nope}}' }] }, 'requests[0].path'],
    [{ requests: [{ name: 'a', path: '/{{username' }] }, 'requests[0].path'],
    [{ requests: [{ name: 'a', path: '/{{randomInt 5 1}}' }] }, 'requests[0].path'],
    [{ requests: [{ name: 'a', path: '/{{randomInt 1}}' }] }, 'requests[0].path'],
    [{ requests: [{ name: 'a', headers: { 'x-a': '{{uuid 1}}' } }] }, 'requests[0].headers.x-a'],
    [{ requests: [{ name: 'a', method: 'POST', body: '{"a":"{{userIndx}}"}' }] }, 'requests[0].body'],
    // The literal text is judged as it will be sent: a template does not excuse bytes the client refuses.
    [{ requests: [{ name: 'a', path: '/日本/{{username}}' }] }, 'requests[0].path'],
    [{ request: { path: '/日本/{{username}}' } }, 'request.path'],
    [{ request: { path: '{{username}}/x' } }, 'request.path'],
    [{ request: { headers: { 'x-a': '日本{{username}}' } } }, 'request.headers.x-a'],
    [{ request: { path: '/{{data.id}}' } }, 'request.path'],
    [{ requests: [{ name: 'a' }, { name: 'b', headers: { 'x-c': '{{data.city}}' } }] }, 'requests[1].headers.x-c'],
    [{ request: { path: '/{{data.id}}' }, data: { key: 'runs/x.csv' } }, 'data.key'],
    [{ request: { path: '/{{data.id}}' }, data: { key: 'data/users.txt' } }, 'data.key'],
    [{ request: { path: '/{{data.id}}' }, data: {} }, 'data.key'],
    [{ data: { key: 'data/u.csv', bucket: 'x' } }, 'data.bucket'],
    // Each body fits its own limit, all together not: the scenario travels in Step Functions state.
    [{ requests: [0, 1].map((i) => ({ name: `r${i}`, method: 'POST', body: 'x'.repeat(40_000) })) }, 'requests'],
  ])('%j -> %s', (input, field) => {
    expect(fieldOf(input)).toBe(field);
  });

  it('parses a weighted mix, a flow and a single request into one Scenario shape', () => {
    const mix = parseRunInput({
      users,
      requests: [
        { name: 'list', path: '/items?page={{randomInt 1 5}}', weight: 3 },
        { name: 'create', method: 'post', path: '/items', body: { by: '{{username}}' }, timeoutMs: 500 },
      ],
    });
    expect(mix.scenario).toEqual({
      mode: 'mix',
      requests: [
        {
          name: 'list',
          weight: 3,
          method: 'GET',
          path: '/items?page={{randomInt 1 5}}',
          headers: {},
          body: null,
          timeoutMs: 10_000,
        },
        {
          name: 'create',
          weight: 1,
          method: 'POST',
          path: '/items',
          headers: { 'content-type': 'application/json' },
          body: '{"by":"{{username}}"}',
          timeoutMs: 500,
        },
      ],
    });
    expect(mix.data).toBeNull();
    const flow = parseRunInput({
      users,
      flow: true,
      requests: [{ name: 'a', path: '/{{data.id}}' }, { name: 'b' }],
      data: { key: 'data/users.csv' },
    });
    expect(flow.scenario.mode).toBe('flow');
    expect(flow.data).toEqual({ key: 'data/users.csv' });
    expect(parseRunInput({ users }).scenario.requests.map((r) => [r.name, r.weight])).toEqual([['default', 1]]);
  });
});

describe('templates', () => {
  const user = { username: 'loadtestuser7', userIndex: 7, data: { city: 'São Paulo/SP', id: '42' } };

  it('folds per-user values into constants: a constant request is built once, the same object every time', () => {
    const scenario: Scenario = {
      mode: 'mix',
      requests: [
        {
          name: 'a',
          weight: 1,
          method: 'POST',
          path: '/users/{{username}}/{{userIndex}}/{{data.city}}',
          headers: { 'x-city': '{{data.id}}' },
          body: '{"u":"{{username}}"}',
          timeoutMs: 1000,
        },
      ],
    };
    const [request] = compileScenario(scenario, user).requests;
    const first = request?.prepare(0);
    expect(first).toEqual({
      path: '/users/loadtestuser7/7/S%C3%A3o%20Paulo%2FSP',
      headers: { 'x-city': '42' },
      body: '{"u":"loadtestuser7"}',
    });
    expect(request?.prepare(1)).toBe(first);
    expect(request?.prepare(99)).toBe(first);
    expect(request?.sendable).toBe(true);
  });

  it('keeps iteration, uuid and randomInt dynamic, around folded literal text', () => {
    const compiled = compileTemplate(
      parseTemplate('/u/{{username}}/{{iteration}}/{{uuid}}?n={{ randomInt -2 2 }}', 'f'),
      user,
      encodeURIComponent,
    );
    expect(compiled).toEqual({
      parts: [
        '/u/loadtestuser7/',
        { kind: 'iteration' },
        '/',
        { kind: 'uuid' },
        '?n=',
        { kind: 'randomInt', min: -2, max: 2 },
      ],
    });
    const random = seededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const text = expand(compiled, i, random);
      const match = /^\/u\/loadtestuser7\/(\d+)\/([0-9a-f-]{36})\?n=(-?\d)$/.exec(text);
      expect(match?.[1]).toBe(String(i));
      seen.add(Number(match?.[3]));
    }
    // Inclusive bounds, nothing outside them.
    expect([...seen].sort()).toEqual([-1, -2, 0, 1, 2]);
  });

  it('counts a request as unsendable for a user whose data makes a header invalid, not for the others', () => {
    const scenario: Scenario = {
      mode: 'mix',
      requests: [
        {
          name: 'a',
          weight: 1,
          method: 'GET',
          path: '/x',
          headers: { 'x-city': '{{data.city}}' },
          body: null,
          timeoutMs: 1000,
        },
      ],
    };
    expect(compileScenario(scenario, { ...user, data: { city: 'Paris' } }).requests[0]?.sendable).toBe(true);
    // The path encodes what a header cannot carry.
    expect(compileScenario(scenario, user).requests[0]?.sendable).toBe(false);
    expect(compileScenario(scenario, { ...user, data: { city: 'Zürich' } }).requests[0]?.sendable).toBe(false);
    expect(compileScenario(scenario, { ...user, data: { city: 'a\r\nb' } }).requests[0]?.sendable).toBe(false);
  });

  it('picks a 3:1 weighted mix within ±5 % over 4,000 iterations, differently per user', () => {
    const scenario: Scenario = {
      mode: 'mix',
      requests: ['a', 'b'].map((name, i) => ({
        name,
        weight: i === 0 ? 3 : 1,
        method: 'GET' as const,
        path: `/${name}`,
        headers: {},
        body: null,
        timeoutMs: 1000,
      })),
    };
    const picks = (userIndex: number) => {
      const compiled = compileScenario(scenario, { username: `u${userIndex}`, userIndex });
      return Array.from({ length: 4_000 }, () => compiled.pick());
    };
    const first = picks(0);
    const share = first.filter((i) => i === 0).length / first.length;
    expect(share).toBeGreaterThanOrEqual(0.75 * 0.95);
    expect(share).toBeLessThanOrEqual(0.75 * 1.05);
    expect(picks(1)).not.toEqual(first);
  });
});

describe('data files', () => {
  it('parses CSV: quoted commas, doubled quotes, line breaks in quotes, CRLF, a BOM and a last line without newline', () => {
    const text = '\ufeffname,city,note\r\nann,"Paris, FR","say ""hi"""\r\nbob,Oslo,"two\r\nlines"\r\n\r\ncy,,x';
    expect(parseCsv(text)).toEqual([
      { name: 'ann', city: 'Paris, FR', note: 'say "hi"' },
      { name: 'bob', city: 'Oslo', note: 'two\r\nlines' },
      { name: 'cy', city: '', note: 'x' },
    ]);
    expect(parseCsv('a\n1\n2\n')).toEqual([{ a: '1' }, { a: '2' }]);
  });

  it.each([
    ['a,b\n1\n', /row 1 has 1 fields/],
    ['a,a\n1,2\n', /unique/],
    ['a\n"open\n', /never closed/],
    ['a\n"x"y\n', /after a closing quote/],
    ['', /empty/],
  ])('refuses bad CSV %j naming data.key', (text, message) => {
    expect(() => parseCsv(text)).toThrow(message);
    expect(() => parseCsv(text)).toThrow(expect.objectContaining({ field: 'data.key' }));
  });

  it('parses a JSON array of flat objects into strings', () => {
    expect(parseJsonRows('[{"id":1,"ok":true,"n":null,"s":"x"}]')).toEqual([{ id: '1', ok: 'true', n: '', s: 'x' }]);
    expect(() => parseJsonRows('{"a":1}')).toThrow(/array/);
    expect(() => parseJsonRows('[{"a":{"b":1}}]')).toThrow(/strings, numbers or booleans/);
    expect(() => parseJsonRows('[1')).toThrow(/does not parse/);
  });

  it('refuses a file without a column the templates read, naming the field that reads it', () => {
    const columns = new Map([['city', 'requests[1].headers.x-city']]);
    expect(() => parseDataFile('d.csv', 'id\n1\n', columns)).toThrow(
      'data.key: requests[1].headers.x-city reads {{data.city}} but row 0 of d.csv has no "city"',
    );
    expect(() => parseDataFile('d.json', '[]', columns)).toThrow(/holds no rows/);
    expect(parseDataFile('d.JSON', '[{"city":"x"}]', columns)).toEqual([{ city: 'x' }]);
  });

  it('gives user i row i mod rows within a shard', () => {
    const rows = [{ n: '0' }, { n: '1' }, { n: '2' }];
    expect(shardRows(rows, { from: 100, to: 104 })).toEqual({
      firstUser: 100,
      rows: [{ n: '1' }, { n: '2' }, { n: '0' }, { n: '1' }, { n: '2' }],
    });
  });
});

describe('runLoad with a scenario', () => {
  const token = async () => 't';
  /** The scenario of this input (besides `users`), compiled for one user. */
  const compiled = (input: Record<string, unknown>, username = 'u', userIndex = 0) =>
    compileScenario(parseRunInput({ users, ...input }).scenario, { username, userIndex });
  /** Runs `test` against a fresh loopback target, and always closes it. */
  const withTarget = async (
    test: (target: Awaited<ReturnType<typeof recordingServer>>) => Promise<void>,
    status?: (url: string) => number,
  ) => {
    const target = await recordingServer(status);
    try {
      await test(target);
    } finally {
      await target.close();
    }
  };

  it('a 3:1 mix: the target sees the ratio within ±5 % over 2,000 requests, and each name has its own counts', () =>
    withTarget(
      async (target) => {
        const result = await runLoad({
          target: target.url,
          scenario: compiled({
            requests: [
              { name: 'a', path: '/a/{{iteration}}', weight: 3 },
              { name: 'b', path: '/b', weight: 1 },
            ],
          }),
          load: { model: 'iterations', iterations: 2_000, concurrency: 8 },
          token,
        });
        const a = target.seen.filter((r) => r.url.startsWith('/api/a/')).length;
        const b = target.seen.filter((r) => r.url === '/api/b').length;
        expect(a + b).toBe(2_000);
        expect(a / 2_000).toBeGreaterThanOrEqual(0.75 * 0.95);
        expect(a / 2_000).toBeLessThanOrEqual(0.75 * 1.05);
        // Every iteration number once: iterations are numbered per user from 0.
        const iterations = target.seen.flatMap((r) => /^\/api\/a\/(\d+)$/.exec(r.url)?.[1] ?? []).map(Number);
        expect(new Set(iterations).size).toBe(a);
        expect(Math.max(...iterations)).toBeLessThan(2_000);
        expect(result.byName.a?.counters).toMatchObject({ total: a, ok: a, failed: 0, statusCodes: { '200': a } });
        expect(result.byName.b?.counters).toMatchObject({ total: b, ok: 0, failed: b, statusCodes: { '503': b } });
        expect(result.byName.a?.latency.histogram.totalCount).toBe(a);
        expect(result.byName.b?.latency.histogram.totalCount).toBe(b);
        expect(result.counters).toMatchObject({ total: 2_000, ok: a, failed: b });
        expect(result.latency.histogram.totalCount).toBe(2_000);
      },
      (url) => (url.startsWith('/api/b') ? 503 : 200),
    ));

  it('a flow runs its steps in order each iteration, sharing the iteration number', () =>
    withTarget(async (target) => {
      const result = await runLoad({
        target: target.url,
        scenario: compiled(
          {
            flow: true,
            requests: [
              { name: 'list', path: '/items?by={{username}}&i={{iteration}}' },
              { name: 'get', path: '/items/{{iteration}}', headers: { 'x-user': '{{username}}' } },
              { name: 'buy', method: 'POST', path: '/orders', body: '{"user":"{{username}}","i":{{iteration}}}' },
            ],
          },
          'loadtestuser4',
          4,
        ),
        load: { model: 'iterations', iterations: 5, concurrency: 1 },
        token,
      });
      expect(target.seen.map((r) => [r.url, r.headers['x-user'] ?? '', r.body])).toEqual(
        [0, 1, 2, 3, 4].flatMap((i) => [
          [`/api/items?by=loadtestuser4&i=${i}`, '', ''],
          [`/api/items/${i}`, 'loadtestuser4', ''],
          ['/api/orders', '', `{"user":"loadtestuser4","i":${i}}`],
        ]),
      );
      expect(result.counters.total).toBe(15);
      expect(Object.fromEntries(Object.entries(result.byName).map(([n, r]) => [n, r.counters.total]))).toEqual({
        list: 5,
        get: 5,
        buy: 5,
      });
    }));

  it('an open model starts one flow iteration per slot; the whole flow holds one in-flight slot', () =>
    withTarget(async (target) => {
      const result = await runLoad({
        target: target.url,
        scenario: compiled({
          flow: true,
          requests: [
            { name: 'a', path: '/a/{{iteration}}' },
            { name: 'b', path: '/b/{{iteration}}' },
          ],
        }),
        load: { model: 'rate', ratePerSecond: 40, durationSeconds: 1, maxInFlight: 1, maxQueueMs: 1_000 },
        token,
      });
      expect(result.counters).toMatchObject({ total: 80, ok: 80, dropped: 0, notSent: 0 });
      expect(target.seen.map((r) => r.url)).toEqual(
        Array.from({ length: 40 }, (_, i) => [`/api/a/${i}`, `/api/b/${i}`]).flat(),
      );
      expect(target.maxInFlight()).toBe(1);
      expect(result.serviceTime?.histogram.totalCount).toBe(80);
    }));

  it('a stopped flow counts its unsent steps, never a step twice', () =>
    withTarget(async (target) => {
      let polls = 0;
      const result = await runLoad({
        target: target.url,
        scenario: compiled({ flow: true, requests: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }),
        load: { model: 'iterations', iterations: 4, concurrency: 1 },
        token,
        // Polled before each iteration and before each later step: stop after the 5th request.
        shouldStop: () => ++polls > 5,
      });
      expect(target.seen).toHaveLength(5);
      expect(result.counters).toMatchObject({ total: 5, notSent: 12 - 5 });
    }));
});
