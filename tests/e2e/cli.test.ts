import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import { parseCli } from '../../src/local/cli';

const cli = (args: string[]) =>
  spawnSync(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'src/local/cli.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CI: 'true' },
  });

describe('CLI flags', () => {
  it('has sensible defaults', () => {
    expect(parseCli([])).toMatchObject({ users: 10, calls: 20, target: undefined, keep: false });
  });

  it.each([
    [['--users', '0'], /--users must be between 1 and 10000, got 0/],
    [['--users', 'abc'], /--users must be a whole number, got "abc"/],
    [['--calls', '-1'], /--calls must be a whole number/],
    [['--target', 'ftp://x'], /--target must use http or https/],
    [['--target', 'http://10.0.0.1:8080/'], /--target must be a loopback address/],
    [['--max-error-rate', '2'], /--max-error-rate must be a number between 0 and 1/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j naming the flag', (args, message) => {
    expect(() => parseCli(args)).toThrow(message);
  });

  it('accepts a loopback target', () => {
    expect(parseCli(['--target', 'http://127.0.0.1:9999/items']).target).toBe('http://127.0.0.1:9999/items');
    expect(parseCli(['--target', 'http://localhost:9999']).target).toBe('http://localhost:9999/');
  });
});

describe('npm run local as a process', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'apiloadtest-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses bad flags with exit 2 and a one-line reason, before starting anything', () => {
    const run = cli(['--users', '0']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--users must be between 1 and 10000');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('runs, prints the report, writes --json and exits 1 when a threshold fails', () => {
    const file = join(dir, 'report.json');
    const run = cli(['--users', '3', '--calls', '4', '--p95', '0.001', '--json', file]);
    expect(run.stderr).not.toMatch(/password|eyJ[A-Za-z0-9_-]{20,}/i);
    expect(run.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('requests   12');
    expect(run.stdout).toContain('thresholds FAILED');
    expect(run.stdout).toMatch(/cleanup\s+3 users and 1 secrets deleted/);
    expect(existsSync(file)).toBe(true);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(report.requests).toEqual({
      total: 12,
      responses: 12,
      ok: 12,
      failed: 0,
      httpFailed: 0,
      transportFailed: 0,
      notSent: 0,
      dropped: 0,
    });
    expect(report.thresholds.passed).toBe(false);
  });
});
