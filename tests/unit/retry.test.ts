import { rateLimiter, withRetry } from '../../src/lib/retry';

import { awsError as named } from '../helpers';

describe('withRetry', () => {
  it('retries throttling with growing, jittered waits, then succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 4) throw named('ThrottlingException');
        return 'ok';
      },
      { sleep: async (ms) => void waits.push(ms), random: () => 0.999, baseMs: 100 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    expect(waits).toEqual([99, 199, 399]);
  });

  it('rethrows a non-retryable error at once', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw named('AccessDeniedException');
      }),
    ).rejects.toThrow('AccessDeniedException');
    expect(calls).toBe(1);
  });

  it('gives up after the last attempt and surfaces the throttle', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw named('TooManyRequestsException');
        },
        { attempts: 3, sleep: async () => {} },
      ),
    ).rejects.toThrow('TooManyRequestsException');
    expect(calls).toBe(3);
  });
});

describe('rateLimiter', () => {
  it('spaces starts at the given rate', async () => {
    let now = 1_000;
    const waits: number[] = [];
    const gate = rateLimiter(
      10,
      () => now,
      async (ms) => {
        waits.push(ms);
      },
    );
    await Promise.all([gate(), gate(), gate()]);
    expect(waits).toEqual([100, 200]);
    now = 2_000;
    await gate();
    expect(waits).toEqual([100, 200]);
  });
});
