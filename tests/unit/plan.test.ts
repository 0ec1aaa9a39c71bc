import { parseRunInput } from '../../src/lib/input';
import { buildPlan, runIdFrom, shardOf, splitRange, USERS_PER_GROUP, USERS_PER_SHARD } from '../../src/lib/plan';

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
    const plan = buildPlan(input, 'run-1', 'key-1');
    expect(plan.shards).toHaveLength(10_000 / USERS_PER_SHARD);
    expect(plan.groups).toHaveLength(Math.ceil(10_000 / USERS_PER_GROUP));
    expect(plan.groups.at(-1)).toEqual({ from: 9_960, to: 9_999 });
    expect(Buffer.byteLength(JSON.stringify(plan))).toBeLessThan(64 * 1024);
    expect(JSON.stringify(plan)).not.toContain('loadtestuser');
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
