/**
 * Benchmarks (never timed tests: this machine is shared and noisy). Prints medians of several runs.
 *
 *   npm run bench                      every section, short enough for < 5 minutes on a 2-core machine
 *   npm run bench -- --full            the long versions of the sections below (about 5 minutes more)
 *   npm run bench -- --only compare    some sections only: compare,engine,aggregate,worker,provision
 *   npm run bench -- --requests 20000 --rounds 1   a quick comparison (also BENCH_REQUESTS, BENCH_ROUNDS)
 *   npm run bench -- --connections 10,100,200      the connection counts compared (default 10,100)
 *   npm run bench -- --no-write        print the comparison without rewriting docs/benchmarks.md
 *   npm run bench -- --target node     the Node target even where nginx is installed (the fallback)
 *   npm run -s bench -- --engine-only --url URL --connections N (--duration S | --amount N) --json
 *                                      the engine alone against any URL: one JSON line (engine-only.ts)
 *
 * 1. compare: our engine (runLoad, from an esbuild bundle run by plain node), autocannon and wrk (when
 *    on PATH) side by side against nginx (or a Node server when nginx is absent), target and generator
 *    pinned to different cores with taskset; 150,000 requests a run, 3 rounds, 10 and 100 connections.
 *    CPU µs per request of each whole generator process, and the ratios engine / autocannon. Writes the
 *    table, the command and the machine to docs/benchmarks.md (between its bench markers).
 * 2. engine: CPU µs per request of runLoad in this process against a loopback HTTP server in a child
 *    process, vs undici's bare Pool.request in the same loop shape.
 * 3. aggregate: time and memory to merge the worker summaries of a 900 s run. Default 2,000 workers
 *    (50 distinct), 1 round: about 20 s. --full is the 10,000-user run's Aggregate (500 distinct, 3
 *    rounds: about 4 minutes here); BENCH_AGGREGATE_USERS sets the workers alone.
 * 4. worker memory: peak RSS of one worker's process running 13 users (the plan's split for 10,000
 *    users) against the same server; it must stay under 256 MiB whatever the number of calls. Default
 *    10,000 calls a user; --full (or BENCH_WORKER_CALLS=100000) 100,000.
 * 5. provisioning: users through the real Provision handler against cognito-local behind a proxy that
 *    throttles 10% of Cognito writes; prints the achieved write rate against the configured one (want
 *    ≥ 90%) and the failures (want 0). 1,000 users (about 25 s; BENCH_PROVISION_USERS=200 shortens it,
 *    but the rate then reads low: the first seconds of a run are a larger share of it).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { Pool } from 'undici';
import { runLoad } from '../src/lib/load/engine';
import { encodeHistogram, newHistogram } from '../src/lib/load/histogram';
import { compileSingle } from '../src/lib/load/scenario';
import { newCounters, tally, type WorkerSummary } from '../src/lib/load/summary';
import { TimelineRecorder } from '../src/lib/load/timeline';
import { mergeSummaries } from '../src/lib/report/report';
import { benchCompare, DOCS_FILE } from './compare';
import { BenchUsageError, engineOnlyMain } from './engine-only';
import { benchProvision } from './provision';
import { startTarget } from './target';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/** The Node target of the comparison, unpinned, in its own process (its CPU and memory are not ours). */
async function startServer(): Promise<{ port: number; stop: () => void }> {
  const target = await startTarget({
    nginxPath: undefined,
    tasksetPath: undefined,
    timeoutPath: undefined,
    cpu: undefined,
    limitSeconds: 900,
  });
  return { port: Number(new URL(target.url).port), stop: target.stop };
}

async function benchWorkerMemory(calls: number): Promise<void> {
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
    `engine     ${calls} requests × 3 rounds, concurrency ${concurrency}: median ${median(ours).toFixed(1)} µs CPU/request (bare undici Pool.request + p-limit: ${median(bare).toFixed(1)} µs; ratio ${(median(ours) / median(bare)).toFixed(2)})`,
  );
}

/**
 * A 15-minute run of `workers` users (10,000 with --full), 1 request per second each: every user fills
 * its whole timeline (57 intervals of 16 s). `distinctUsers` users are recorded (500 with --full, 50
 * by default: recording one takes about 0.15 s here) and the others repeat them; the merge decodes and
 * adds every one of the `workers` summaries.
 */
function benchAggregate(workers: number, distinctUsers: number, rounds: number): void {
  const distinct = Math.min(distinctUsers, workers);
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
  for (let round = 0; round < rounds; round++) {
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
    `aggregate  ${workers} worker summaries of ${seconds} s (${(bytes / 2 ** 20).toFixed(1)} MiB of JSON, timeline ${intervals} × ${interval} s): median merge ${median(times).toFixed(0)} ms over ${rounds} round${rounds === 1 ? '' : 's'}, process RSS ${rss.toFixed(0)} MiB`,
  );
}

const SECTIONS = ['compare', 'engine', 'aggregate', 'worker', 'provision'] as const;
type Section = (typeof SECTIONS)[number];

interface BenchOptions {
  readonly sections: ReadonlySet<Section>;
  readonly requests: number;
  readonly rounds: number;
  readonly connections: readonly number[];
  readonly write: boolean;
  readonly nodeTarget: boolean;
  readonly aggregateUsers: number;
  readonly aggregateRounds: number;
  readonly aggregateDistinct: number;
  readonly workerCalls: number;
  readonly provisionUsers: number;
}

/** A positive integer from a flag or, failing that, an environment variable; `fallback` when neither is set. */
function count(name: string, flag: string | undefined, envName: string, fallback: number): number {
  const env = process.env[envName];
  const raw = flag ?? (env === '' ? undefined : env);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new BenchUsageError(
      `${flag === undefined ? envName : `--${name}`}: must be a positive integer, got '${raw}'`,
    );
  return Number(raw);
}

function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values: ReturnType<typeof parseFlags>['values'];
  try {
    values = parseFlags(argv).values;
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const only = values.only ?? (process.env.BENCH_ONLY || undefined);
  const sections = new Set<Section>();
  for (const name of (only ?? SECTIONS.join(',')).split(',')) {
    if (!(SECTIONS as readonly string[]).includes(name))
      throw new BenchUsageError(`--only: unknown section '${name}' (sections: ${SECTIONS.join(', ')})`);
    sections.add(name as Section);
  }
  const connections = (values.connections ?? '10,100').split(',').map((c) => count('connections', c, '', 0));
  const full = values.full === true;
  if (values.target !== undefined && values.target !== 'node' && values.target !== 'nginx')
    throw new BenchUsageError(`--target: must be nginx or node, got '${values.target}'`);
  return {
    sections,
    requests: count('requests', values.requests, 'BENCH_REQUESTS', 150_000),
    rounds: count('rounds', values.rounds, 'BENCH_ROUNDS', 3),
    connections,
    write: values['no-write'] !== true,
    nodeTarget: values.target === 'node',
    aggregateUsers: count('aggregate-users', undefined, 'BENCH_AGGREGATE_USERS', full ? 10_000 : 2_000),
    aggregateRounds: full ? 3 : 1,
    aggregateDistinct: full ? 500 : 50,
    workerCalls: count('worker-calls', undefined, 'BENCH_WORKER_CALLS', full ? 100_000 : 10_000),
    provisionUsers: count('provision-users', undefined, 'BENCH_PROVISION_USERS', 1_000),
  };
}

const parseFlags = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      only: { type: 'string' },
      requests: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      full: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      target: { type: 'string' },
    },
  });

/** The command as typed (with the BENCH_ variables set), for docs/benchmarks.md. */
function commandLine(argv: readonly string[]): string {
  const env = Object.entries(process.env)
    .filter(([name, value]) => name.startsWith('BENCH_') && value !== undefined && value !== '')
    .map(([name, value]) => `${name}=${value}`);
  return [...env, 'npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ');
}

async function timed(name: string, work: () => Promise<void> | void): Promise<void> {
  const started = performance.now();
  await work();
  console.log(`           (${name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--engine-only')) return engineOnlyMain(argv);
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    console.error(`bench: ${error.message}`);
    return 2;
  }
  const started = performance.now();
  const { sections } = options;
  if (sections.has('compare'))
    await timed('compare', () =>
      benchCompare({
        requests: options.requests,
        rounds: options.rounds,
        connections: options.connections,
        docsFile: options.write ? DOCS_FILE : undefined,
        nodeTarget: options.nodeTarget,
        command: commandLine(argv),
      }),
    );
  if (sections.has('engine')) await timed('engine', benchEngine);
  if (sections.has('aggregate'))
    await timed('aggregate', () =>
      benchAggregate(options.aggregateUsers, options.aggregateDistinct, options.aggregateRounds),
    );
  if (sections.has('worker')) await timed('worker memory', () => benchWorkerMemory(options.workerCalls));
  if (sections.has('provision')) await timed('provisioning', () => benchProvision(options.provisionUsers));
  console.log(`\nbench done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
