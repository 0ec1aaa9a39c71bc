import { progressLine, progressPrinter } from '../../src/local/format';
import type { Progress } from '../../src/local/local-run';

const provisioning: Progress = {
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

describe('progressLine while provisioning', () => {
  const progress = provisioning;

  it('says how many users were created and how many reused', () => {
    expect(progressLine(progress)).toBe('provisioning users: 1,200/10,000 (200 created, 1,000 reused)');
  });

  it('shows the count alone before the first user is done', () => {
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

describe('progressPrinter in a log (no TTY)', () => {
  const start: Progress = { ...provisioning, usersProvisioned: 0, usersCreated: 0, usersReused: 0 };

  function printed(updates: (update: (p: Progress) => void, tick: (ms: number) => void) => void): string[] {
    const lines: string[] = [];
    let clock = 1_000_000;
    const printer = progressPrinter({ isTTY: false, write: (text) => lines.push(text) }, () => clock);
    updates(printer.update, (ms) => {
      clock += ms;
    });
    return lines.map((line) => line.trimEnd());
  }

  it('prints a line per tenth of the users provisioned, not one per user', () => {
    const lines = printed((update) => {
      for (let user = 0; user <= 10_000; user++) update({ ...start, usersProvisioned: user, usersCreated: user });
    });
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('provisioning users: 0/10,000');
    expect(lines[1]).toBe('provisioning users: 1,000/10,000 (1,000 created, 0 reused)');
    expect(lines[10]).toBe('provisioning users: 10,000/10,000 (10,000 created, 0 reused)');
  });

  it('repeats an advancing line within a tenth only every 5 s, and never the same line twice', () => {
    const lines = printed((update, tick) => {
      for (let user = 0; user < 1000; user++) {
        update({ ...start, usersProvisioned: user, usersCreated: user });
        tick(100);
      }
      update({ ...start, usersProvisioned: 999, usersCreated: 999 });
      tick(10_000);
      update({ ...start, usersProvisioned: 999, usersCreated: 999 });
    });
    // 0 at once, then one line each 5 s of the 100 s.
    expect(lines).toHaveLength(1 + 20);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('prints each phase change', () => {
    const lines = printed((update) => {
      update({ ...start, phase: 'planning' });
      update(start);
      update({ ...start, phase: 'cleanup' });
    });
    expect(lines).toEqual([
      'planning the run…',
      'provisioning users: 0/10,000',
      'cleaning up: deleting test users, secrets and key…',
    ]);
  });
});
