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

describe('parseRunInput', () => {
  it('accepts the seed input with numbers as strings and fills defaults', () => {
    const input = parseRunInput({ users: { NumberOfUsers: '100', NumberOfCallsPerUser: '100' } });
    expect(input).toMatchObject({ users: 100, callsPerUser: 100, concurrencyPerUser: 1, startDelaySeconds: undefined });
    expect(input.request).toEqual({ method: 'GET', path: '', headers: {}, body: null, timeoutMs: 10_000 });
    expect(input.thresholds).toEqual({});
  });

  it('accepts numbers as numbers', () => {
    expect(parseRunInput({ users: { NumberOfUsers: 3, NumberOfCallsPerUser: 7 } })).toMatchObject({
      users: 3,
      callsPerUser: 7,
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
    [
      { users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, thresholds: { maxErrorRate: 2 } },
      'thresholds.maxErrorRate',
    ],
    [{ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 }, thresholds: { p95Ms: 'fast' } }, 'thresholds.p95Ms'],
    ['not an object', 'input'],
  ])('rejects %j naming %s', (raw, field) => {
    expect(fieldOf(() => parseRunInput(raw))).toBe(field);
  });

  it('keeps a path, lower-cases headers and JSON-encodes an object body', () => {
    const input = parseRunInput({
      users: { NumberOfUsers: 1, NumberOfCallsPerUser: 1 },
      request: { method: 'post', path: '/items?x=1', headers: { 'X-Trace': 'a' }, body: { a: 1 }, timeoutMs: '500' },
      thresholds: { p95Ms: 200, maxErrorRate: '0.01' },
    });
    expect(input.request).toEqual({
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
