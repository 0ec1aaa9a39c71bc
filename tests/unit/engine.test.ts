import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../src/lib/load/engine';
import { scheduleOf } from '../../src/lib/load/model';
import { compileSingle } from '../../src/lib/load/scenario';
import { requestSpec } from '../helpers';

/** A loopback server that counts what it receives; `handle` decides each answer. */
async function server(handle: (n: number, req: unknown, res: import('node:http').ServerResponse) => void) {
  let received = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const srv: Server = createServer((req, res) => {
    received++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    req.resume();
    handle(received, req, res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/`),
    received: () => received,
    maxInFlight: () => maxInFlight,
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

const spec = requestSpec;

const token = async () => 't';

describe('runLoad', () => {
  it('keeps exactly the configured number of requests in flight, and sends each call once', async () => {
    const target = await server((_n, _req, res) => setTimeout(() => res.end('ok'), 20));
    try {
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        load: { model: 'iterations', iterations: 40, concurrency: 4 },
        token,
      });
      expect(result.counters).toMatchObject({ total: 40, responses: 40, ok: 40, failed: 0, notSent: 0 });
      expect(target.received()).toBe(40);
      expect(target.maxInFlight()).toBe(4);
    } finally {
      await target.close();
    }
  });

  it('enforces timeoutMs with its own timer: a 300 ms answer under a 100 ms limit is a timeout', async () => {
    const target = await server((_n, _req, res) => setTimeout(() => res.end('late'), 300));
    try {
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec({ timeoutMs: 100 })),
        load: { model: 'iterations', iterations: 4, concurrency: 2 },
        token,
      });
      expect(result.counters).toMatchObject({ total: 4, responses: 0, ok: 0, failed: 4, errors: { timeout: 4 } });
      // Without our own timer these would count as OK at 300 ms (undici checks about once a second).
      expect(result.latency.maxUs).toBe(0);
    } finally {
      await target.close();
    }
  });

  it('counts a request the client refuses to send as invalid_request, and goes on (no leaked slot)', async () => {
    const target = await server((_n, _req, res) => res.end('ok'));
    try {
      // These bypass the input validator on purpose: the engine must settle them anyway.
      for (const request of [
        spec({ path: '/\u65e5\u672c' }),
        spec({ path: '/a\u0000b' }),
        spec({ headers: { 'x-name': '\u65e5\u672c' } }),
        spec({ headers: { expect: '100-continue' } }),
        spec({ headers: { upgrade: 'websocket' } }),
      ]) {
        const result = await runLoad({
          target: target.url,
          scenario: compileSingle(request),
          load: { model: 'iterations', iterations: 3, concurrency: 1 },
          token,
        });
        expect({ request, errors: result.counters.errors }).toEqual({ request, errors: { invalid_request: 3 } });
        expect(result.counters).toMatchObject({ total: 3, responses: 0, failed: 3, errors: { invalid_request: 3 } });
      }
      expect(target.received()).toBe(0);
    } finally {
      await target.close();
    }
  });

  it('counts connection refusals as transport failures with no response', async () => {
    const target = await server((_n, _req, res) => res.end('ok'));
    const url = target.url;
    await target.close();
    const result = await runLoad({
      target: url,
      scenario: compileSingle(spec()),
      load: { model: 'iterations', iterations: 5, concurrency: 2 },
      token,
    });
    expect(result.counters).toMatchObject({ total: 5, responses: 0, failed: 5, errors: { ECONNREFUSED: 5 } });
  });

  it('counts a reset mid-response as ECONNRESET and a 503 as a failed response', async () => {
    const target = await server((n, _req, res) => {
      // Cut mid-body: a request whose answer had begun is never sent again.
      if (n % 2 === 0) {
        res.writeHead(200, { 'content-length': '100' });
        res.write('half', () => res.socket?.destroy());
      } else {
        res.statusCode = 503;
        res.end('busy');
      }
    });
    try {
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        load: { model: 'iterations', iterations: 6, concurrency: 1 },
        token,
      });
      expect(result.counters).toMatchObject({
        total: 6,
        responses: 3,
        ok: 0,
        failed: 6,
        statusCodes: { '503': 3 },
        errors: { ECONNRESET: 3 },
      });
      expect(target.received()).toBe(6);
    } finally {
      await target.close();
    }
  });

  it('stops starting requests at the deadline and counts the rest as not sent', async () => {
    const target = await server((_n, _req, res) => setTimeout(() => res.end('ok'), 30));
    try {
      const deadline = Date.now() + 100;
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        load: { model: 'iterations', iterations: 1_000, concurrency: 1 },
        token,
        deadline,
      });
      expect(result.counters.total).toBe(target.received());
      expect(result.counters.total).toBeGreaterThan(0);
      expect(result.counters.total + result.counters.notSent).toBe(1_000);
    } finally {
      await target.close();
    }
  });
});

describe('scheduleOf', () => {
  it('spaces a constant rate evenly: request i at i·1000/R ms', () => {
    const at = scheduleOf({ model: 'rate', ratePerSecond: 50, durationSeconds: 2, maxInFlight: 4, maxQueueMs: 1000 });
    expect([0, 1, 2, 99].map(at)).toEqual([0, 20, 40, 1980]);
    expect(at(100)).toBeUndefined();
  });

  it('ramps linearly: a 0→R stage sends R·T/2 requests, denser at the end', () => {
    const at = scheduleOf({
      model: 'stages',
      stages: [
        { durationSeconds: 2, target: 100 },
        { durationSeconds: 1, target: 100 },
        { durationSeconds: 2, target: 0 },
      ],
      maxInFlight: 4,
      maxQueueMs: 1000,
    });
    const times: number[] = [];
    for (let i = 0, t = at(0); t !== undefined; t = at(++i)) times.push(t);
    // 100 in the ramp up, 100 in the hold, 100 in the ramp down.
    expect(times).toHaveLength(300);
    const perSecond = [0, 1, 2, 3, 4].map((s) => times.filter((t) => t >= s * 1000 && t < (s + 1) * 1000).length);
    expect(perSecond).toEqual([25, 75, 100, 75, 25]);
    expect(times.every((t, i) => i === 0 || t >= (times[i - 1] ?? 0))).toBe(true);
  });
});

describe('runLoad: models', () => {
  it('rate: sends R per second from the schedule, whatever the responses', async () => {
    const target = await server((_n, _req, res) => res.end('ok'));
    try {
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        load: { model: 'rate', ratePerSecond: 100, durationSeconds: 1, maxInFlight: 10, maxQueueMs: 1000 },
        token,
      });
      expect(result.counters).toMatchObject({ total: 100, responses: 100, dropped: 0, notSent: 0 });
      expect(target.received()).toBe(100);
      expect(result.serviceTime?.histogram.totalCount).toBe(100);
    } finally {
      await target.close();
    }
  });

  it('rate against a slow target: drops what could not start in time, and measures from the intended start', async () => {
    const target = await server((_n, _req, res) => setTimeout(() => res.end('ok'), 200));
    try {
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        // 50/s with 2 in flight at 200 ms each: only ~10/s can be offered.
        load: { model: 'rate', ratePerSecond: 50, durationSeconds: 1, maxInFlight: 2, maxQueueMs: 300 },
        token,
      });
      const { total, dropped } = result.counters;
      expect(total + dropped).toBe(50);
      expect(dropped).toBeGreaterThan(20);
      expect(target.received()).toBe(total);
      expect(target.maxInFlight()).toBe(2);
      // Corrected latency includes the wait for a slot; service time does not.
      expect(result.latency.maxUs).toBeGreaterThan(300_000);
      expect(result.serviceTime?.maxUs).toBeLessThan(300_000);
    } finally {
      await target.close();
    }
  });

  it('duration: keeps sending with C in flight until the time is up', async () => {
    const target = await server((_n, _req, res) => setTimeout(() => res.end('ok'), 10));
    try {
      const started = Date.now();
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        load: { model: 'duration', durationSeconds: 1, concurrency: 2 },
        token,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(result.counters.total).toBe(target.received());
      expect(result.counters.total).toBeGreaterThan(10);
      expect(target.maxInFlight()).toBe(2);
    } finally {
      await target.close();
    }
  });

  it('stops starting requests when told to, and counts the planned rest as not sent', async () => {
    const target = await server((_n, _req, res) => setTimeout(() => res.end('ok'), 5));
    try {
      const result = await runLoad({
        target: target.url,
        scenario: compileSingle(spec()),
        load: { model: 'rate', ratePerSecond: 100, durationSeconds: 2, maxInFlight: 4, maxQueueMs: 1000 },
        shouldStop: (counters) => counters.total >= 30,
        token,
      });
      expect(result.counters.total).toBe(target.received());
      expect(result.counters.total).toBeLessThan(40);
      expect(result.counters.total + result.counters.notSent + result.counters.dropped).toBe(200);
    } finally {
      await target.close();
    }
  });
});
