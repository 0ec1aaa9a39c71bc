/**
 * Benchmarks (never timed tests: this machine is shared and noisy). Prints medians of several runs.
 *
 *   npm run bench
 *
 * 1. engine: CPU µs per request of runLoad against a loopback HTTP server in a child process
 *    (the server's CPU is not counted), vs undici's bare Pool.request in the same loop shape.
 * 2. aggregate: time and memory to merge 10,000 worker summaries (the 10,000-user run's Aggregate).
 */
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import pLimit from 'p-limit';
import { Pool } from 'undici';
import { runLoad } from '../src/lib/load/engine';
import { encodeHistogram, newHistogram } from '../src/lib/load/histogram';
import { countOutcome, newCounters, type WorkerSummary } from '../src/lib/load/summary';
import { mergeSummaries } from '../src/lib/report/report';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

const SERVER = `
const http = require('node:http');
const body = '{"ok":true}';
const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, {'content-type':'application/json','content-length':body.length}); res.end(body); });
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(0), 300000).unref();
`;

async function benchEngine(): Promise<void> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
  const target = new URL(`http://127.0.0.1:${port}/bench`);
  const request = { method: 'GET' as const, path: '', headers: {}, body: null, timeoutMs: 10_000 };
  const calls = 20_000;
  const concurrency = 16;
  const token = async () => 'bench-token';
  const ours: number[] = [];
  const bare: number[] = [];
  try {
    for (let round = 0; round < 5; round++) {
      let cpu = process.cpuUsage();
      const result = await runLoad({ target, request, calls, concurrency, token });
      cpu = process.cpuUsage(cpu);
      if (result.counters.ok !== calls) throw new Error(`engine: ${result.counters.ok}/${calls} ok`);
      ours.push((cpu.user + cpu.system) / calls);

      const pool = new Pool(target.origin, { connections: concurrency });
      const limit = pLimit(concurrency);
      cpu = process.cpuUsage();
      await Promise.all(
        Array.from({ length: calls }, () =>
          limit(async () => {
            const res = await pool.request({
              path: '/bench',
              method: 'GET',
              headers: { authorization: 'Bearer bench-token' },
            });
            for await (const _ of res.body) {
            }
          }),
        ),
      );
      cpu = process.cpuUsage(cpu);
      await pool.close();
      bare.push((cpu.user + cpu.system) / calls);
      await delay(200);
    }
  } finally {
    child.disconnect();
    child.kill();
  }
  console.log(
    `engine     ${calls} requests × 5 rounds, concurrency ${concurrency}: median ${median(ours).toFixed(1)} µs CPU/request (bare undici Pool.request + p-limit: ${median(bare).toFixed(1)} µs; ratio ${(median(ours) / median(bare)).toFixed(2)})`,
  );
}

function benchAggregate(): void {
  const workers = 10_000;
  const perWorker = 100;
  let x = 7;
  const summaries: WorkerSummary[] = [];
  for (let w = 0; w < workers; w++) {
    const h = newHistogram();
    const counters = newCounters();
    for (let i = 0; i < perWorker; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      h.recordValue(1_000 + (x % 200_000));
      countOutcome(counters, { status: 200 }, 1_700_000_000_000 + i * 10);
    }
    summaries.push(
      JSON.parse(
        JSON.stringify({
          version: 1,
          runId: 'bench',
          userIndex: w,
          username: `loadtestuser${w}`,
          counters,
          histogram: encodeHistogram(h),
          minLatencyUs: 1_000,
          maxLatencyUs: 201_000,
          startedAt: 1_700_000_000_000,
          finishedAt: 1_700_000_001_000,
          lateStartMs: 0,
          tokenRefreshes: 0,
          tokenRefreshFailures: 0,
        }),
      ),
    );
  }
  const bytes = summaries.reduce((n, s) => n + JSON.stringify(s).length, 0);
  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    const report = mergeSummaries(
      { runId: 'bench', target: 'http://127.0.0.1/', users: workers, callsPerUser: perWorker, thresholds: {} },
      summaries,
    );
    times.push(performance.now() - started);
    if (report.requests.total !== workers * perWorker) throw new Error('aggregate: wrong total');
  }
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `aggregate  ${workers} worker summaries (${(bytes / 2 ** 20).toFixed(1)} MiB of JSON): median merge ${median(times).toFixed(0)} ms over 5 rounds, process RSS ${rss.toFixed(0)} MiB`,
  );
}

async function main(): Promise<void> {
  benchAggregate();
  await benchEngine();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
