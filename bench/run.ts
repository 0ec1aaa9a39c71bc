/**
 * Benchmarks (never timed tests: this machine is shared and noisy). Prints medians of several runs.
 *
 *   npm run bench
 *
 * 1. engine: CPU µs per request of runLoad against a loopback HTTP server in a child process
 *    (the server's CPU is not counted), vs undici's bare Pool.request in the same loop shape.
 * 2. aggregate: time and memory to merge 10,000 worker summaries (the 10,000-user run's Aggregate).
 * 3. worker memory: peak RSS of one worker's process running 13 users × 100,000 calls (the plan's split
 *    for 10,000 users) against the same server; it must stay under 256 MiB whatever the number of calls.
 *    BENCH_WORKER_CALLS=20000 npm run bench shortens it.
 * 4. provisioning: 1,000 users through the real Provision handler against cognito-local behind a proxy
 *    that throttles 10% of Cognito writes; prints the achieved write rate against the configured one
 *    (want ≥ 90%) and the failures (want 0). BENCH_PROVISION_USERS=200 npm run bench shortens it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pLimit from 'p-limit';
import { Pool } from 'undici';
import { runLoad } from '../src/lib/load/engine';
import { encodeHistogram, newHistogram } from '../src/lib/load/histogram';
import { compileSingle } from '../src/lib/load/scenario';
import { newCounters, tally, type WorkerSummary } from '../src/lib/load/summary';
import { TimelineRecorder } from '../src/lib/load/timeline';
import { mergeSummaries } from '../src/lib/report/report';
import { benchProvision } from './provision';

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

/** The loopback server in its own process, so its CPU and memory are not the generator's. */
async function startServer(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
  return {
    port,
    stop: () => {
      child.disconnect();
      child.kill();
    },
  };
}

async function benchWorkerMemory(): Promise<void> {
  const calls = Number(process.env.BENCH_WORKER_CALLS ?? 100_000);
  const server = await startServer();
  try {
    const run = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), join(__dirname, 'worker-memory.ts'), String(server.port), '13', String(calls)],
      { encoding: 'utf8', timeout: 600_000 },
    );
    if (run.status !== 0) throw new Error(`worker-memory failed: ${run.stderr}`);
    const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
      ok: number;
      seconds: number;
      maxRssMiB: number;
    };
    if (out.ok !== 13 * calls) throw new Error(`worker-memory: ${out.ok}/${13 * calls} ok`);
    console.log(
      `worker     13 users × ${calls} calls (${out.ok} requests in ${out.seconds.toFixed(0)} s): peak RSS ${out.maxRssMiB.toFixed(0)} MiB (limit 256 MiB) ${out.maxRssMiB < 256 ? 'OK' : 'OVER'}`,
    );
  } finally {
    server.stop();
  }
}

async function benchEngine(): Promise<void> {
  const server = await startServer();
  const port = server.port;
  const target = new URL(`http://127.0.0.1:${port}/bench`);
  const request = { method: 'GET' as const, path: '', headers: {}, body: null, timeoutMs: 10_000 };
  const calls = 20_000;
  const concurrency = 16;
  const token = async () => 'bench-token';
  const ours: number[] = [];
  const bare: number[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      let cpu = process.cpuUsage();
      const result = await runLoad({
        target,
        scenario: compileSingle(request),
        load: { model: 'iterations', iterations: calls, concurrency },
        token,
      });
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
    server.stop();
  }
  console.log(
    `engine     ${calls} requests × 5 rounds, concurrency ${concurrency}: median ${median(ours).toFixed(1)} µs CPU/request (bare undici Pool.request + p-limit: ${median(bare).toFixed(1)} µs; ratio ${(median(ours) / median(bare)).toFixed(2)})`,
  );
}

/**
 * A 15-minute run of 10,000 users, 1 request per second each: every user fills its whole timeline
 * (57 intervals of 16 s). 500 distinct users are recorded and each stands for 20 (recording 9 million
 * requests would take the bench half an hour); the merge decodes and adds every one of the 10,000.
 */
function benchAggregate(): void {
  const workers = 10_000;
  const distinct = 500;
  const seconds = 900;
  const perWorker = seconds;
  const barrier = 1_700_000_000_000;
  let x = 7;
  const recorded: Pick<WorkerSummary, 'counters' | 'histogram' | 'timeline'>[] = [];
  for (let w = 0; w < distinct; w++) {
    const h = newHistogram();
    const counters = newCounters();
    const timeline = new TimelineRecorder(barrier);
    for (let i = 0; i < perWorker; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      const us = 1_000 + (x % 200_000);
      h.recordValue(us);
      timeline.record(barrier + i * 1_000 + (x % 1_000), tally(counters, { status: 200 }), us);
    }
    recorded.push({ counters, histogram: encodeHistogram(h), timeline: timeline.encode() });
  }
  const summaries: WorkerSummary[] = [];
  for (let w = 0; w < workers; w++) {
    const user = recorded[w % distinct];
    summaries.push(
      JSON.parse(
        JSON.stringify({
          version: 1,
          runId: 'bench',
          userIndex: w,
          username: `loadtestuser${w}`,
          ...user,
          minLatencyUs: 1_000,
          maxLatencyUs: 201_000,
          barrierAt: barrier,
          loginUs: 150_000,
          startedAt: barrier,
          finishedAt: barrier + seconds * 1_000,
          lateStartMs: 0,
          tokenRefreshes: 0,
          tokenRefreshFailures: 0,
        }),
      ),
    );
  }
  const bytes = summaries.reduce((n, s) => n + JSON.stringify(s).length, 0);
  const times: number[] = [];
  let interval = 0;
  let intervals = 0;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const report = mergeSummaries(
      {
        runId: 'bench',
        target: 'http://127.0.0.1/',
        users: workers,
        load: { model: 'iterations', iterations: perWorker, concurrency: 1 },
        thresholds: {},
      },
      summaries,
    );
    times.push(performance.now() - started);
    if (report.requests.total !== workers * perWorker) throw new Error('aggregate: wrong total');
    if (report.timeline.reduce((n, t) => n + t.requests, 0) !== workers * perWorker)
      throw new Error('aggregate: timeline lost requests');
    interval = report.timelineIntervalSeconds;
    intervals = report.timeline.length;
  }
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `aggregate  ${workers} worker summaries of ${seconds} s (${(bytes / 2 ** 20).toFixed(1)} MiB of JSON, timeline ${intervals} × ${interval} s): median merge ${median(times).toFixed(0)} ms over 3 rounds, process RSS ${rss.toFixed(0)} MiB`,
  );
}

async function main(): Promise<void> {
  // BENCH_ONLY=aggregate: the Aggregate's figures alone; BENCH_ONLY=engine: the engine and worker memory.
  const only = process.env.BENCH_ONLY;
  if (only === undefined || only === 'aggregate') benchAggregate();
  if (only === 'aggregate') return;
  await benchEngine();
  await benchWorkerMemory();
  if (only === undefined) await benchProvision();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
