/**
 * The workload models, end to end: the real workflows run locally against a loopback target that
 * counts what it receives, per second and per user (the user is read from the bearer token).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setLogSink } from '../../src/lib/log';
import { type LocalRunResult, runLocal } from '../../src/local/local-run';

interface Counting {
  readonly url: string;
  /** Arrival times (ms since the first request) of every request, and of each user's. */
  readonly arrivals: number[];
  readonly byUser: Map<string, number[]>;
  stop(): Promise<void>;
}

async function countingTarget(delayMs = 0): Promise<Counting> {
  let first = 0;
  const arrivals: number[] = [];
  const byUser = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const now = Date.now();
    first ||= now;
    arrivals.push(now - first);
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const user = String(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}').username);
    byUser.set(user, [...(byUser.get(user) ?? []), now]);
    req.resume();
    const timer = setTimeout(() => res.end('ok'), delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`,
    arrivals,
    byUser,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const perSecond = (arrivals: readonly number[]): number[] => {
  const out: number[] = [];
  for (const t of arrivals) out[Math.floor(t / 1000)] = (out[Math.floor(t / 1000)] ?? 0) + 1;
  return Array.from(out, (n) => n ?? 0);
};

async function run(load: Record<string, unknown>, target: Counting, users = 4): Promise<LocalRunResult> {
  return runLocal({ input: { users: { NumberOfUsers: users }, load }, target: target.url });
}

beforeAll(() => setLogSink(() => {}));
afterAll(() => setLogSink(undefined));

describe('workload models against a loopback target that counts', () => {
  it('rate: 4 users × 50/s for 10 s is 2,000 ± 2% requests, about 200 each second', async () => {
    const target = await countingTarget();
    try {
      const result = await run({ model: 'rate', ratePerSecond: 50, durationSeconds: 10 }, target);
      expect(result.failure).toBeUndefined();
      expect(target.arrivals.length).toBeGreaterThanOrEqual(1960);
      expect(target.arrivals.length).toBeLessThanOrEqual(2040);
      expect(result.report?.requests.total).toBe(target.arrivals.length);
      // After the first second (users join within it), each full second holds 200 ± 10%.
      const seconds = perSecond(target.arrivals).slice(1, 9);
      for (const n of seconds) {
        expect(n).toBeGreaterThanOrEqual(180);
        expect(n).toBeLessThanOrEqual(220);
      }
    } finally {
      await target.stop();
    }
  });

  it('rate against a 300 ms target with 5 in flight: dropped is counted, corrected latency is above 300 ms', async () => {
    const target = await countingTarget(300);
    try {
      const result = await run({ model: 'rate', ratePerSecond: 50, durationSeconds: 4, maxInFlight: 5 }, target);
      const report = result.report;
      expect(report?.requests.dropped).toBeGreaterThan(0);
      expect((report?.requests.total ?? 0) + (report?.requests.dropped ?? 0)).toBe(4 * 200);
      expect(report?.requests.total).toBe(target.arrivals.length);
      // Waiting for a slot counts: the corrected p50 is above the target's own 300 ms.
      expect(report?.latencyMs?.p50).toBeGreaterThan(300);
      expect(report?.serviceTimeMs?.p50).toBeGreaterThanOrEqual(300);
      expect(report?.serviceTimeMs?.p50).toBeLessThan(report?.latencyMs?.p50 ?? 0);
      // And it grows over the run, as the queue for slots fills: later intervals' p50 above the first's.
      const p50s = (report?.timeline ?? []).map((t) => t.p50).filter((p): p is number => p !== null);
      expect(p50s.length).toBeGreaterThan(2);
      expect(Math.max(...p50s.slice(1))).toBeGreaterThan((p50s[0] ?? 0) * 1.5);
    } finally {
      await target.stop();
    }
  });

  it('duration: each user sends for 5 s ± 0.5 s with 2 in flight', async () => {
    const target = await countingTarget(20);
    try {
      const result = await run({ model: 'duration', durationSeconds: 5, concurrency: 2 }, target, 2);
      expect(result.failure).toBeUndefined();
      expect([...target.byUser.keys()].sort()).toEqual(['loadtestuser0', 'loadtestuser1']);
      for (const times of target.byUser.values()) {
        const span = (times.at(-1) ?? 0) - (times[0] ?? 0);
        expect(span).toBeGreaterThan(4_500);
        expect(span).toBeLessThan(5_500);
      }
    } finally {
      await target.stop();
    }
  });

  it('stages 3:20,3:20,3:0: the target sees a ramp up, a hold and a ramp down', async () => {
    const target = await countingTarget();
    try {
      const result = await run(
        {
          model: 'stages',
          stages: [
            { durationSeconds: 3, target: 20 },
            { durationSeconds: 3, target: 20 },
            { durationSeconds: 3, target: 0 },
          ],
        },
        target,
      );
      expect(result.failure).toBeUndefined();
      // 4 users: the ramps hold 4 × 30 requests each, the hold 4 × 60.
      expect(target.arrivals.length).toBeGreaterThanOrEqual(470);
      expect(target.arrivals.length).toBeLessThanOrEqual(490);
      const [s0, s1, s2, s3, s4, s5, s6, s7, s8] = perSecond(target.arrivals);
      const up = [s0, s1, s2].map(Number);
      const hold = [s3, s4, s5].map(Number);
      const down = [s6, s7, s8].map(Number);
      expect(up[0]).toBeLessThan(up[2] ?? 0);
      expect(down[0]).toBeGreaterThan(down[2] ?? 0);
      for (const n of hold) expect(n).toBeGreaterThan(64);
      expect(Math.max(...up, ...down)).toBeLessThanOrEqual(Math.min(...hold) + 8);
    } finally {
      await target.stop();
    }
  });
});
