import { progressLine } from '../../src/local/format';
import type { Progress } from '../../src/local/local-run';

describe('progressLine while provisioning', () => {
  const progress: Progress = {
    phase: 'provisioning',
    users: 10_000,
    usersProvisioned: 1_200,
    usersCreated: 200,
    usersReused: 1_000,
    workers: 770,
    workersStarted: 0,
    workersFinished: 0,
    requestsDone: 0,
    currentRps: 0,
  };

  it('says how many users were created and how many reused', () => {
    expect(progressLine(progress)).toBe('provisioning users: 1,200/10,000 (200 created, 1,000 reused)');
  });

  it('shows the count alone before the first shard is done', () => {
    expect(progressLine({ ...progress, usersProvisioned: 0, usersCreated: 0, usersReused: 0 })).toBe(
      'provisioning users: 0/10,000',
    );
  });

  it('says the load waits for the start barrier, and how long, until the first request', () => {
    const waiting = { ...progress, phase: 'load' as const, workersStarted: 700, barrierAt: Date.now() + 41_500 };
    expect(progressLine(waiting)).toMatch(/^load: 700\/770 workers logging in; waiting 4[12] s for the start barrier$/);
    expect(progressLine({ ...waiting, requestsDone: 5 })).toMatch(/^load: workers 0\/770 done/);
  });
});
