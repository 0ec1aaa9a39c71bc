/**
 * The fault matrix: `npm run local`'s CLI, as a process, against a loopback target that counts what it
 * receives and what it answers, with one fault at a time. For each: the exit code, the report's
 * counts equal the target's own, nothing hangs (every run is bounded), and no process is left behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import type { Report } from '../../src/lib/report/report';
import { isAlive, processTree } from '../helpers';

type Fault = (n: number, req: IncomingMessage, res: ServerResponse, target: Target) => void;

interface Target {
  readonly url: string;
  /** Requests whose handler ran: the target received them. */
  received: number;
  /** Status -> responses the target finished sending. */
  readonly answered: Record<string, number>;
  stop(): Promise<void>;
}

async function startTarget(fault: Fault): Promise<Target> {
  const sockets = new Set<Socket>();
  const target = {
    url: '',
    received: 0,
    answered: {} as Record<string, number>,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    target.received++;
    req.resume();
    res.on('finish', () => {
      target.answered[res.statusCode] = (target.answered[res.statusCode] ?? 0) + 1;
    });
    fault(target.received, req, res, target);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`;
  return target;
}

const answer = (res: ServerResponse, status = 200) => {
  res.statusCode = status;
  res.end('{"ok":true}');
};

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: Report | undefined;
  /** Processes the CLI started that were still alive 5 s after it exited. */
  readonly leftBehind: number[];
  /** How many processes below the CLI were seen while it ran (tsx's child, cognito-local): the watch works. */
  readonly watched: number;
}

const RUN_LIMIT_MS = 90_000;

/** Runs the CLI as `npm run local` does, watching the processes it starts; bounded by RUN_LIMIT_MS. */
async function runCli(args: string[], dir: string): Promise<CliRun> {
  const json = join(dir, `report-${Date.now()}.json`);
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), join(ROOT, 'src/local/cli.ts'), ...args, '--json', json],
    { cwd: ROOT, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const seen = new Set<number>();
  const watch = setInterval(() => {
    if (child.pid) for (const pid of processTree(child.pid).slice(1)) seen.add(pid);
  }, 100);
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearInterval(watch);
  clearTimeout(killer);
  for (let i = 0; i < 50 && [...seen].some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
  let report: Report | undefined;
  try {
    report = JSON.parse(readFileSync(json, 'utf8')) as Report;
  } catch {
    report = undefined;
  }
  return { code, stdout, stderr, report, leftBehind: [...seen].filter(isAlive), watched: seen.size };
}

/** The report's counts are the target's counts. */
function expectCountsMatch(report: Report | undefined, target: Target): void {
  expect(report).toBeDefined();
  if (!report) return;
  const answered = Object.values(target.answered).reduce((n, c) => n + c, 0);
  const ok = Object.entries(target.answered)
    .filter(([status]) => Number(status) >= 200 && Number(status) < 400)
    .reduce((n, [, c]) => n + c, 0);
  expect(report.statusCodes).toEqual(target.answered);
  expect(report.requests.responses).toBe(answered);
  expect(report.requests.ok).toBe(ok);
  expect(report.requests.failed).toBe(report.requests.total - ok);
  expect(report.requests.responses).toBeLessThanOrEqual(target.received);
  expect(target.received).toBeLessThanOrEqual(report.requests.total);
  const transport = Object.values(report.errors).reduce((n, c) => n + c, 0);
  expect(report.requests.transportFailed).toBe(transport);
  expect(report.requests.total).toBe(report.requests.responses + transport);
}

describe('fault matrix: npm run local against a target that counts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'apiloadtest-faults-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const base = ['--users', '2', '--calls', '10', '--concurrency', '2'];

  it('every 4th request answered 503: counted as failed responses; thresholds decide the exit code', async () => {
    const target = await startTarget((n, _req, res) => answer(res, n % 4 === 0 ? 503 : 200));
    try {
      const run = await runCli([...base, '--target', target.url, '--max-error-rate', '0.3'], dir);
      expect(run.code).toBe(0);
      expectCountsMatch(run.report, target);
      expect(run.report?.requests).toMatchObject({ total: 20, responses: 20, ok: 15, httpFailed: 5 });
      expect(run.watched).toBeGreaterThanOrEqual(1);
      expect(run.leftBehind).toEqual([]);
    } finally {
      await target.stop();
    }
  });

  it('every 3rd request answered 429: an error rate above the limit exits 1 (ThresholdsFailed)', async () => {
    const target = await startTarget((n, _req, res) => answer(res, n % 3 === 0 ? 429 : 200));
    try {
      const run = await runCli([...base, '--target', target.url, '--max-error-rate', '0.1'], dir);
      expect(run.code).toBe(1);
      expectCountsMatch(run.report, target);
      expect(run.report?.statusCodes['429']).toBe(6);
      expect(run.report?.verdict.error).toBe('ThresholdsFailed');
      expect(run.leftBehind).toEqual([]);
    } finally {
      await target.stop();
    }
  });

  it('every 5th connection reset mid-request: counted as ECONNRESET, never as a response', async () => {
    const target = await startTarget((n, req, res) => (n % 5 === 0 ? req.socket.destroy() : answer(res)));
    try {
      const run = await runCli([...base, '--target', target.url], dir);
      expect(run.code).toBe(0);
      expectCountsMatch(run.report, target);
      expect(run.report?.errors.ECONNRESET).toBe(4);
      expect(run.report?.requests).toMatchObject({ total: 20, responses: 16, transportFailed: 4 });
      expect(run.leftBehind).toEqual([]);
    } finally {
      await target.stop();
    }
  });

  it('answers slower than --timeout-ms: every request is a timeout, and no response means exit 1', async () => {
    const target = await startTarget((_n, _req, res) => {
      const timer = setTimeout(() => answer(res), 800);
      res.on('close', () => clearTimeout(timer));
    });
    try {
      const run = await runCli(
        ['--users', '2', '--calls', '2', '--concurrency', '1', '--timeout-ms', '500', '--target', target.url],
        dir,
      );
      expect(run.code).toBe(1);
      expect(run.report?.requests).toMatchObject({ total: 4, responses: 0, transportFailed: 4 });
      expect(run.report?.errors.timeout).toBe(4);
      expect(target.received).toBe(4);
      expect(run.report?.latencyMs).toBeNull();
      expect(run.report?.verdict.error).toBe('NoResponses');
      expect(run.leftBehind).toEqual([]);
    } finally {
      await target.stop();
    }
  });

  it('nothing listening: exit 1, saying no request got a response, with every refusal counted', async () => {
    const target = await startTarget((_n, _req, res) => answer(res));
    await target.stop();
    const run = await runCli([...base, '--target', target.url, '--p95', '250'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no request got a response/);
    expect(run.report?.requests).toMatchObject({ total: 20, responses: 0, ok: 0, failed: 20 });
    expect(run.report?.errors.ECONNREFUSED).toBe(20);
    expect(run.report?.latencyMs).toBeNull();
    expect(run.report?.thresholds.passed).toBe(false);
    expect(run.leftBehind).toEqual([]);
  });

  it('a target that stops after 7 requests: responses are what it answered, the rest fail', async () => {
    let stopped: Promise<void> | undefined;
    const target = await startTarget((n, _req, res, self) => {
      if (n < 7) answer(res);
      else if (n === 7) {
        answer(res);
        res.on('finish', () => {
          stopped = self.stop();
        });
      } else res.socket?.destroy();
    });
    try {
      const run = await runCli(['--users', '2', '--calls', '10', '--concurrency', '1', '--target', target.url], dir);
      expect(run.code).toBe(0);
      expectCountsMatch(run.report, target);
      expect(run.report?.requests).toMatchObject({ total: 20, responses: 7, ok: 7, failed: 13 });
      expect(run.leftBehind).toEqual([]);
    } finally {
      await (stopped ?? target.stop());
    }
  });

  it.each([
    [['--path', '/\u65e5\u672c'], /--path/],
    [['--header', 'x-name: \u65e5\u672c'], /--header/],
    [['--header', 'expect: 100-continue'], /--header/],
  ])('a request the client cannot send (%j) exits 2 naming the flag, before anything starts', async (args, flag) => {
    const run = await runCli(['--users', '1', '--calls', '1', ...args], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(flag);
    expect(run.stdout).toBe('');
    expect(run.report).toBeUndefined();
    expect(run.leftBehind).toEqual([]);
  });
});
