import { functions } from '../../sls/functions';
import { parseRunInput } from '../../src/lib/input';
import {
  buildPlan,
  runIdFrom,
  shardOf,
  splitRange,
  USERS_PER_SHARD,
  usersPerWorkerFor,
  WORKER_TIMEOUT_SECONDS,
  WORKERS_PER_GROUP,
} from '../../src/lib/plan';

describe('plan', () => {
  it('splits users into inclusive ranges that cover every user once', () => {
    expect(splitRange(5, 2)).toEqual([
      { from: 0, to: 1 },
      { from: 2, to: 3 },
      { from: 4, to: 4 },
    ]);
    expect(splitRange(4, 2)).toHaveLength(2);
  });

  it('stays compact at 10,000 users (Step Functions caps state at 256 KiB)', () => {
    const input = parseRunInput({ users: { NumberOfUsers: '10000', NumberOfCallsPerUser: '100' } });
    const plan = buildPlan(input, 'run-1', 'key-1', 800);
    expect(plan.shards).toHaveLength(10_000 / USERS_PER_SHARD);
    // 10,000 users within a budget of 800 concurrent Lambdas: 13 users a worker, 770 workers.
    expect(plan.worker.usersPerWorker).toBe(13);
    // Every login fits before the barrier at 100 per second.
    expect(plan.worker.startDelaySeconds).toBe(105);
    expect(plan.workers).toBe(770);
    expect(plan.groups).toHaveLength(Math.ceil(10_000 / (WORKERS_PER_GROUP * 13)));
    expect(plan.groups.at(-1)).toEqual({ from: 9_880, to: 9_999 });
    expect(Buffer.byteLength(JSON.stringify(plan))).toBeLessThan(64 * 1024);
    expect(JSON.stringify(plan)).not.toContain('loadtestuser');
  });

  it('runs one user per worker while the workers fit the concurrency budget', () => {
    const input = parseRunInput({ users: { NumberOfUsers: 800, NumberOfCallsPerUser: 1 } });
    expect(usersPerWorkerFor(input, 800)).toBe(1);
    expect(usersPerWorkerFor({ ...input, users: 801 }, 800)).toBe(2);
  });

  it('refuses a users-per-worker that exceeds the concurrency budget or a Lambda connection limit', () => {
    const input = parseRunInput({ users: { NumberOfUsers: 10_000, NumberOfCallsPerUser: 1, UsersPerWorker: 5 } });
    expect(() => usersPerWorkerFor(input, 800)).toThrow(
      /users.UsersPerWorker: 5 gives 2000 workers, more than the 800 .* use at least 13/,
    );
    const wide = parseRunInput({ users: { NumberOfUsers: 10_000, NumberOfCallsPerUser: 1, ConcurrencyPerUser: 100 } });
    expect(() => usersPerWorkerFor(wide, 800)).toThrow(
      /users.ConcurrencyPerUser: 13 users per worker × 100 requests in flight/,
    );
  });

  it('keeps an explicit start delay', () => {
    const input = parseRunInput({ users: { NumberOfUsers: 10, NumberOfCallsPerUser: 1, StartDelaySeconds: 0 } });
    expect(buildPlan(input, 'r', 'k', 800).worker.startDelaySeconds).toBe(0);
    expect(buildPlan({ ...input, startDelaySeconds: undefined }, 'r', 'k', 800).worker.startDelaySeconds).toBe(6);
  });

  it('refuses a load that cannot end inside one worker Lambda, and says the largest duration that fits', () => {
    const input = (load: unknown, users = { NumberOfUsers: 100, StartDelaySeconds: 60 }) =>
      parseRunInput({ users, load });
    // 900 s - 30 s margin - 60 s delay - 10 s ramp - 10 s request timeout = 790 s.
    expect(() =>
      buildPlan(input({ model: 'duration', durationSeconds: 800, rampUpSeconds: 10 }), 'r', 'k', 800),
    ).toThrow(/load.durationSeconds: 800 s of load cannot end .* the largest duration that fits is 790 s/);
    expect(() =>
      buildPlan(input({ model: 'duration', durationSeconds: 790, rampUpSeconds: 10 }), 'r', 'k', 800),
    ).not.toThrow();
    expect(() =>
      buildPlan(
        input({
          model: 'stages',
          stages: [
            { durationSeconds: 500, target: 5 },
            { durationSeconds: 350, target: 0 },
          ],
        }),
        'r',
        'k',
        800,
      ),
    ).toThrow(/^load.stages: 850 s of load/);
    expect(WORKER_TIMEOUT_SECONDS).toBe(functions.runWorker.timeout);
  });

  it('maps a user to the shard that holds its credentials', () => {
    expect(shardOf(0)).toBe(0);
    expect(shardOf(USERS_PER_SHARD - 1)).toBe(0);
    expect(shardOf(USERS_PER_SHARD)).toBe(1);
  });

  it('derives a key-safe run id from the execution name', () => {
    expect(runIdFrom('abc-123_x')).toBe('abc-123_x');
    expect(runIdFrom('a b/c')).toBe('a-b-c');
    expect(runIdFrom('')).toMatch(/^run-\d+$/);
  });
});
