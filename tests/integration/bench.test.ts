import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseEngineOnlyArgs, runEngineOnly } from '../../bench/engine-only';
import { buildEngineBundle, runGenerator, type Tools } from '../../bench/generators';
import { findExecutable } from '../../bench/processes';
import { startTarget, TARGET_BODY } from '../../bench/target';

const ROOT = join(__dirname, '..', '..');

/** A loopback server that records the URLs it was asked for. */
async function loopback(): Promise<{ url: string; urls: string[]; close: () => Promise<void> }> {
  const urls: string[] = [];
  const server: Server = createServer((req, res) => {
    urls.push(req.url ?? '');
    req.resume();
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    urls,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `npm run bench -- …` as package.json runs it (tsx), without npm's banner; resolves with its output. */
function bench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/run.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench --engine-only', () => {
  it('sends the amount asked, to the path and query of the URL, and counts it', async () => {
    const target = await loopback();
    try {
      const out = await runEngineOnly(
        parseEngineOnlyArgs(['--url', `${target.url}/a/b?c=1`, '--connections', '4', '--amount', '60']),
      );
      expect(out).toMatchObject({ requests: 60, errors: 0 });
      expect(out.p50Ms).toBeGreaterThan(0);
      expect(out.p99Ms).toBeGreaterThanOrEqual(out.p50Ms ?? 0);
      expect(out.cpuSeconds).toBeGreaterThan(0);
      expect(target.urls).toHaveLength(60);
      expect(new Set(target.urls)).toEqual(new Set(['/a/b?c=1']));
    } finally {
      await target.close();
    }
  });

  it('prints exactly one JSON line for a 1 s run, and exits 2 naming a bad flag', async () => {
    const target = await loopback();
    try {
      const run = await bench([
        '--engine-only',
        '--url',
        `${target.url}/`,
        '--connections',
        '2',
        '--duration',
        '1',
        '--json',
      ]);
      expect(run.code).toBe(0);
      const lines = run.stdout.split('\n').filter((line) => line !== '');
      expect(lines).toHaveLength(1);
      const out = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
      expect(Object.keys(out)).toEqual(['requests', 'rps', 'cpuSeconds', 'p50Ms', 'p99Ms', 'errors']);
      expect(out.requests).toBe(target.urls.length);
      expect(out.errors).toBe(0);
      expect(typeof out.rps).toBe('number');
      expect(typeof out.p50Ms).toBe('number');
    } finally {
      await target.close();
    }
    const bad = await bench(['--engine-only', '--url', 'http://127.0.0.1:1/', '--connections', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/--connections: must be a positive integer, got 'many'/);
    const badBench = await bench(['--only', 'everything']);
    expect(badBench.code).toBe(2);
    expect(badBench.stderr).toMatch(/--only: unknown section 'everything'/);
  });
});

describe('bench targets and generators', () => {
  const nginx = findExecutable('nginx', process.env.PATH, ['/usr/sbin', '/usr/local/sbin', '/sbin']);
  const wrk = findExecutable('wrk', process.env.PATH);
  const timeout = findExecutable('timeout', process.env.PATH, ['/usr/bin', '/bin']);
  const bash = findExecutable('bash', process.env.PATH, ['/bin', '/usr/bin']);
  if (nginx === undefined) console.warn('bench test: nginx not installed, its target test is skipped');
  if (wrk === undefined) console.warn('bench test: wrk not on PATH, its generator run is skipped');

  const answers = async (url: string) => {
    const res = await fetch(url);
    return { status: res.status, body: await res.text() };
  };

  (nginx === undefined ? it.skip : it)('starts nginx as a foreground process and stops it by PID', async () => {
    const target = await startTarget({
      nginxPath: nginx,
      tasksetPath: undefined,
      timeoutPath: timeout,
      cpu: undefined,
      limitSeconds: 30,
    });
    expect(target.kind).toBe('nginx');
    expect(await answers(target.url)).toEqual({ status: 200, body: TARGET_BODY });
    target.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(fetch(target.url)).rejects.toThrow();
  });

  it('runs engine, autocannon (and wrk) against the Node target, measuring their CPU with `times`', async () => {
    if (bash === undefined) throw new Error('bash is required by the bench');
    const target = await startTarget({
      nginxPath: undefined,
      tasksetPath: undefined,
      timeoutPath: timeout,
      cpu: undefined,
      limitSeconds: 60,
    });
    const bundle = await buildEngineBundle();
    try {
      expect(target.kind).toBe('node');
      expect(await answers(target.url)).toEqual({ status: 200, body: TARGET_BODY });
      const tools: Tools = {
        bash,
        node: process.execPath,
        engineBundle: bundle.file,
        wrk,
        taskset: undefined,
        timeout,
        cpu: undefined,
      };
      for (const tool of ['engine', 'autocannon'] as const) {
        const run = await runGenerator(tools, { tool, url: target.url, connections: 4, amount: 300, wrkSeconds: 1 });
        expect(run).toMatchObject({ tool, connections: 4, requests: 300, errors: 0 });
        expect(run.cpuSeconds).toBeGreaterThan(0);
        expect(run.p50Ms).toBeGreaterThan(0);
      }
      if (wrk !== undefined) {
        const run = await runGenerator(tools, {
          tool: 'wrk',
          url: target.url,
          connections: 4,
          amount: 300,
          wrkSeconds: 1,
        });
        expect(run.requests).toBeGreaterThan(0);
        expect(run.errors).toBe(0);
        expect(run.cpuSeconds).toBeGreaterThan(0);
      }
    } finally {
      bundle.remove();
      target.stop();
    }
  });
});
