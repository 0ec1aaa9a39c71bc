import { InvalidInputError } from '../../src/lib/errors';
import { parseCleanupInput, parseRunInput } from '../../src/lib/input';

const fieldOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).name).toBe('InvalidInput');
    return (error as InvalidInputError).field;
  }
  throw new Error('expected InvalidInput');
};

describe('load models', () => {
  const users = { NumberOfUsers: 2 };
  it.each([
    [
      { model: 'iterations', iterations: 50, concurrency: 3 },
      { model: 'iterations', iterations: 50, concurrency: 3 },
    ],
    [
      { model: 'duration', durationSeconds: '30' },
      { model: 'duration', durationSeconds: 30, concurrency: 1 },
    ],
    [
      { model: 'rate', ratePerSecond: 50, durationSeconds: 10 },
      { model: 'rate', ratePerSecond: 50, durationSeconds: 10, maxInFlight: 50, maxQueueMs: 1000 },
    ],
    [
      { model: 'rate', ratePerSecond: 0.5, durationSeconds: 10, maxInFlight: 2, maxQueueMs: 0 },
      { model: 'rate', ratePerSecond: 0.5, durationSeconds: 10, maxInFlight: 2, maxQueueMs: 0 },
    ],
    [
      {
        model: 'stages',
        stages: [
          { durationSeconds: 3, target: 20 },
          { durationSeconds: 3, target: 0 },
        ],
      },
      {
        model: 'stages',
        stages: [
          { durationSeconds: 3, target: 20 },
          { durationSeconds: 3, target: 0 },
        ],
        maxInFlight: 20,
        maxQueueMs: 1000,
      },
    ],
  ])('reads %j', (load, expected) => {
    expect(parseRunInput({ users, load }).load).toEqual(expected);
  });

  it('reads a ramp-up', () => {
    expect(
      parseRunInput({ users, load: { model: 'duration', durationSeconds: 5, rampUpSeconds: 4 } }).rampUpSeconds,
    ).toBe(4);
  });

  it.each([
    [{ users }, 'users.NumberOfCallsPerUser'],
    [
      { users: { ...users, NumberOfCallsPerUser: 5 }, load: { model: 'duration', durationSeconds: 5 } },
      'users.NumberOfCallsPerUser',
    ],
    [{ users, load: { model: 'open' } }, 'load.model'],
    [{ users, load: { model: 'rate', ratePerSecond: 0, durationSeconds: 5 } }, 'load.ratePerSecond'],
    [{ users, load: { model: 'rate', ratePerSecond: 5 } }, 'load.durationSeconds'],
    [{ users, load: { model: 'rate', ratePerSecond: 5, durationSeconds: 5, concurrency: 2 } }, 'load.concurrency'],
    [{ users, load: { model: 'duration', durationSeconds: 901 } }, 'load.durationSeconds'],
    [{ users, load: { model: 'stages', stages: [] } }, 'load.stages'],
    [{ users, load: { model: 'stages', stages: [{ durationSeconds: 3, target: 0 }] } }, 'load.stages'],
    [{ users, load: { model: 'stages', stages: [{ durationSeconds: 3, target: -1 }] } }, 'load.stages[0].target'],
    [
      {
        users,
        load: {
          model: 'stages',
          stages: [
            { durationSeconds: 600, target: 1 },
            { durationSeconds: 600, target: 1 },
          ],
        },
      },
      'load.stages',
    ],
    [{ users: { ...users, NumberOfCallsPerUser: 5 }, thresholds: { abortOnFail: true } }, 'thresholds.abortOnFail'],
  ])('refuses %j naming %s', (raw, field) => {
    expect(fieldOf(() => parseRunInput(raw))).toBe(field);
  });

  it('reads abortOnFail with the error rate it needs', () => {
    const input = parseRunInput({
      users: { ...users, NumberOfCallsPerUser: 5 },
      thresholds: { maxErrorRate: 0.1, abortOnFail: true },
    });
    expect(input.thresholds.abortOnFail).toEqual({ minRequests: 100 });
  });
});

describe('parseRunInput', () => {
  it('accepts the seed input with numbers as strings and fills defaults', () => {
    const input = parseRunInput({ users: { NumberOfUsers: '100', NumberOfCallsPerUser: '100' } });
    expect(input).toMatchObject({
      users: 100,
      load: { model: 'iterations', iterations: 100, concurrency: 1 },
      rampUpSeconds: 0,
      startDelaySeconds: undefined,
    });
    expect(input.scenario.requests[0]).toEqual({
      name: 'default',
      weight: 1,
      method: 'GET',
      path: '',
      headers: {},
      body: null,
      timeoutMs: 10_000,
    });
    expect(input.thresholds).toEqual({});
  });

  it('accepts numbers as numbers', () => {
    expect(parseRunInput({ users: { NumberOfUsers: 3, NumberOfCallsPerUser: 7 } })).toMatchObject({
      users: 3,
      load: { model: 'iterations', iterations: 7, concurrency: 1 },
    });
  });

  it('names NumberOfUsers when it is negative', () => {
    expect(() => parseRunInput({ users: { NumberOfUsers: '-3' } })).toThrow(
      /users\.NumberOfUsers: must be between 1 and 10000, got -3/,
    );
  });

  it.each([
    [{ users: { NumberOfUsers: 'abc', NumberOfCallsPerUser: 1 } }, 'users.NumberOfUsers'],
    [{ users: { NumberOfUsers: '1.5', NumberOfCallsPerUser: 1 } }, 'users.NumberOfUsers'],
    [{ users: { NumberOfUsers: 10_001, NumberOfCallsPerUser: 1 } }, 'users.NumberOfUsers'],
    [{ users: { NumberOfUsers: 1 } }, 'users.NumberOfCallsPerUser'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 0 } }, 'users.NumberOfCallsPerUser'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1, ConcurrencyPerUser: 0 } }, 'users.ConcurrencyPerUser'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1, Typo: 1 } }, 'users.Typo'],
    [{}, 'users'],
    [{ users: [] }, 'users'],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: 'https://evil.example/' } },
      'request.path',
    ],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: '//evil.example/x' } }, 'request.path'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: '/../admin' } }, 'request.path'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { method: 'TRACE' } }, 'request.method'],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { headers: { Authorization: 'x' } } },
      'request.headers.Authorization',
    ],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { headers: { 'x-a': 'a\r\nb' } } },
      'request.headers.x-a',
    ],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { body: 'x' } }, 'request.body'],
    // What the HTTP client cannot send is refused here, not left to hang a worker.
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: '/日本' } }, 'request.path'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: '/a\u0000b' } }, 'request.path'],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: '/a b' } }, 'request.path'],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { headers: { 'x-name': '日本' } } },
      'request.headers.x-name',
    ],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { headers: { Expect: '100-continue' } } },
      'request.headers.Expect',
    ],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { headers: { upgrade: 'websocket' } } },
      'request.headers.upgrade',
    ],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { headers: { 'keep-alive': 'timeout=5' } } },
      'request.headers.keep-alive',
    ],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, thresholds: { maxFailedWorkers: -1 } },
      'thresholds.maxFailedWorkers',
    ],
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, thresholds: { maxErrorRate: 2 } },
      'thresholds.maxErrorRate',
    ],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, thresholds: { p95Ms: 'fast' } }, 'thresholds.p95Ms'],
    ['not an object', 'input'],
  ])('rejects %j naming %s', (raw, field) => {
    expect(fieldOf(() => parseRunInput(raw))).toBe(field);
  });

  it('suggests the percent-encoded form of a non-ASCII path', () => {
    expect(() =>
      parseRunInput({ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, request: { path: '/日本' } }),
    ).toThrow('(percent-encoded: /%E6%97%A5%E6%9C%AC)');
    const input = parseRunInput({
      users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 },
      request: { path: '/%E6%97%A5?q=a..b' },
    });
    expect(input.scenario.requests[0]?.path).toBe('/%E6%97%A5?q=a..b');
  });

  it('keeps a path, lower-cases headers and JSON-encodes an object body', () => {
    const input = parseRunInput({
      users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 },
      request: { method: 'post', path: '/items?x=1', headers: { 'X-Trace': 'a' }, body: { a: 1 }, timeoutMs: '500' },
      thresholds: { p95Ms: 200, maxErrorRate: '0.01' },
    });
    expect(input.scenario.requests[0]).toEqual({
      name: 'default',
      weight: 1,
      method: 'POST',
      path: '/items?x=1',
      headers: { 'x-trace': 'a', 'content-type': 'application/json' },
      body: '{"a":1}',
      timeoutMs: 500,
    });
    expect(input.thresholds).toEqual({ p95Ms: 200, maxErrorRate: 0.01 });
  });
});

describe('parseCleanupInput', () => {
  it('means every test user when no number is given', () => {
    expect(parseCleanupInput({})).toEqual({ users: undefined });
    expect(parseCleanupInput(undefined)).toEqual({ users: undefined });
  });

  it('accepts the seed shape and the nested shape', () => {
    expect(parseCleanupInput({ NumberOfUsers: '100' })).toEqual({ users: 100 });
    expect(parseCleanupInput({ users: { NumberOfUsers: 5 } })).toEqual({ users: 5 });
  });

  it('names the field of a bad number', () => {
    expect(fieldOf(() => parseCleanupInput({ NumberOfUsers: 'x' }))).toBe('NumberOfUsers');
  });

  // A typo read as "no number" would delete every test user, every secret and the key.
  it.each([
    [{ NumberOfUser: '1' }, 'NumberOfUser'],
    [{ users: { NumberOfUser: '1' } }, 'users.NumberOfUser'],
    [{ NumberOfUsers: '1', dryRun: true }, 'dryRun'],
    [{ users: '1' }, 'users'],
    [{ NumberOfUsers: '1', users: { NumberOfUsers: '2' } }, 'NumberOfUsers'],
  ])('rejects %j instead of deleting everything', (raw, field) => {
    expect(fieldOf(() => parseCleanupInput(raw))).toBe(field);
  });
});
