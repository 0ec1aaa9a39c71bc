import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import { parseCli } from '../../src/local/cli';
import { parseJunit, reportOf } from '../helpers';

const cli = (args: string[]) =>
  // As package.json's `local` script runs it.
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/local/cli.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CI: 'true' },
  });

describe('CLI flags', () => {
  it('has sensible defaults', () => {
    expect(parseCli([])).toMatchObject({
      input: { users: { NumberOfUsers: '10', NumberOfCallsPerUser: '20' } },
      target: undefined,
      keep: false,
    });
  });

  it.each([
    [['--users', '0'], /^--users: must be between 1 and 10000, got 0$/],
    [['--users', 'abc'], /^--users: must be a whole number, got "abc"$/],
    [['--calls', '-1'], /^--calls: must be between 1 and 100000, got -1$/],
    [['--concurrency', '1000'], /^--concurrency: must be between 1 and 256/],
    [['--start-delay', '601'], /^--start-delay: must be between 0 and 600/],
    [['--users-per-worker', '100', '--concurrency', '10'], /^--users-per-worker: 100 users per worker × 10/],
    [['--users', '4000', '--concurrency', '256'], /^--concurrency: 5 users per worker × 256/],
    [['--timeout-ms', '0'], /^--timeout-ms: must be between 1 and 60000, got 0$/],
    [['--p95', 'abc'], /^--p95: must be a number, got "abc"$/],
    [['--max-error-rate', '2'], /^--max-error-rate: must be between 0 and 1, got 2$/],
    [['--path', 'items'], /^--path: must start with "\/"/],
    [['--path', '/a b'], /^--path: must be printable ASCII with no spaces/],
    [['--path', '/\u65e5\u672c'], /^--path: .*percent-encoded: \/%E6%97%A5%E6%9C%AC/],
    [['--header', 'expect: 100-continue'], /^--header "expect": is a hop-by-hop header/],
    [['--header', 'Authorization: Bearer x'], /^--header "Authorization": is set by the worker/],
    [['--header', 'bad name: x'], /^--header "bad name": is not a valid header name$/],
    [['--header', 'no-colon'], /^--header: must be "name: value", got "no-colon"$/],
    [['--header', 'X-A: 1', '--header', 'x-a: 2'], /^--header "x-a": is given more than once$/],
    [['--users', '10', '--users', '1000'], /^--users: is given more than once$/],
    [['--keep', '--keep'], /^--keep: is given more than once$/],
    [['--target', 'ftp://x'], /^--target: must use http or https/],
    [['--target', 'http://10.0.0.1:8080/'], /^--target: must be a loopback address/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %j naming the flag', (args, message) => {
    expect(() => parseCli(args)).toThrow(message);
  });

  it('builds the request section from --path, repeated --header, --timeout-ms, --method and --body', () => {
    const options = parseCli(['--path', '/items?x=1', '--header', 'X-A: 1', '--header', 'Accept:  text/plain ']);
    expect(options.input.request).toEqual({ path: '/items?x=1', headers: { 'X-A': '1', Accept: 'text/plain' } });
    expect(parseCli(['--timeout-ms', '2500']).input.request).toEqual({ timeoutMs: '2500' });
    expect(parseCli(['--method', 'POST', '--body', '{"a":1}']).input.request).toEqual({
      method: 'POST',
      body: { a: 1 },
    });
    expect(parseCli([]).input.request).toBeUndefined();
  });

  it('builds each load model from its flags', () => {
    expect(parseCli([]).input).toEqual({ users: { NumberOfUsers: '10', NumberOfCallsPerUser: '20' } });
    expect(parseCli(['--rate', '50', '--duration', '10', '--max-in-flight', '5']).input.load).toEqual({
      model: 'rate',
      ratePerSecond: '50',
      durationSeconds: '10',
      maxInFlight: '5',
    });
    expect(parseCli(['--stages', '3:20,3:20,3:0']).input.load).toEqual({
      model: 'stages',
      stages: [
        { durationSeconds: '3', target: '20' },
        { durationSeconds: '3', target: '20' },
        { durationSeconds: '3', target: '0' },
      ],
    });
    expect(parseCli(['--duration', '5', '--concurrency', '2']).input.load).toEqual({
      model: 'duration',
      durationSeconds: '5',
      concurrency: '2',
    });
    expect(parseCli(['--calls', '7', '--ramp-up', '3']).input).toMatchObject({
      users: { NumberOfUsers: '10' },
      load: { model: 'iterations', iterations: '7', rampUpSeconds: '3' },
    });
  });

  it.each([
    [['--rate', '50'], /^--duration: must be a whole number, got nothing/],
    [['--rate', '0', '--duration', '5'], /^--rate: must be above 0/],
    [['--stages', '3-20'], /^--stages: must be SECONDS:RATE pairs/],
    [['--duration', '5000'], /^--duration: must be between 1 and 900/],
    [['--duration', '880'], /^--duration: 880 s of load cannot end .* largest duration that fits is/],
  ])('refuses model flags %j naming the flag', (args, message) => {
    expect(() => parseCli(args)).toThrow(message);
  });

  it('reads --input as the execution input, flags overriding its fields', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'apiloadtest-input-')), 'in.json');
    writeFileSync(
      file,
      JSON.stringify({ users: { NumberOfUsers: '5', NumberOfCallsPerUser: '10' }, thresholds: { p95Ms: 9 } }),
    );
    expect(parseCli(['--input', file]).input).toEqual({
      users: { NumberOfUsers: '5', NumberOfCallsPerUser: '10' },
      thresholds: { p95Ms: 9 },
    });
    expect(parseCli(['--input', file, '--users', '2', '--p95', '100']).input).toEqual({
      users: { NumberOfUsers: '2', NumberOfCallsPerUser: '10' },
      thresholds: { p95Ms: '100' },
    });
    writeFileSync(file, JSON.stringify({ users: { NumberOfUsers: '5' }, load: { model: 'rate', ratePerSecond: 2 } }));
    expect(() => parseCli(['--input', file])).toThrow(/^--input: load.durationSeconds: must be a whole number/);
    expect(() => parseCli(['--input', join(tmpdir(), 'no-such-file.json')])).toThrow(/^--input: cannot read/);
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
    expect(run.stderr).toContain('--users: must be between 1 and 10000');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('refuses an unwritable --json or --html before starting anything', () => {
    for (const args of [
      ['--json', join(dir, 'missing-dir', 'report.json')],
      ['--html', dir],
    ]) {
      const run = cli(args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^apiloadtest: --(json|html): cannot write/);
      expect(run.stderr).not.toContain('starting emulators');
    }
    // The check leaves no empty file behind.
    const file = join(dir, 'probe.json');
    expect(cli(['--json', file, '--users', '0']).status).toBe(2);
    expect(existsSync(file)).toBe(false);
  });

  it('runs, prints the report, writes --json and exits 1 when a threshold fails', () => {
    const file = join(dir, 'report.json');
    const junit = join(dir, 'report.junit.xml');
    const run = cli(['--users', '3', '--calls', '4', '--p95', '0.001', '--json', file, '--junit', junit]);
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
    // JUnit a parser reads: the p95 case fails with the limit and the observed value.
    const suite = parseJunit(readFileSync(junit, 'utf8'));
    expect(suite.failures).toBe('1');
    const p95 = suite.testcase.find((c: any) => String(c.name).startsWith('p95 latency'));
    expect(p95.failure.message).toMatch(
      /^p95 [\d,]+\.\d\d ms > 0\.001 ms \(limit 0\.001 ms, observed [\d,]+\.\d\d ms\)$/,
    );
  });

  it('refuses a --baseline that is missing or not a report with exit 2, before starting anything', () => {
    const out = join(dir, 'never.json');
    writeFileSync(join(dir, 'not-a-report.json'), '{"hello":1}');
    for (const [baseline, reason] of [
      [join(dir, 'missing.json'), 'not a readable JSON file'],
      [join(dir, 'not-a-report.json'), 'not an apiloadtest report'],
    ]) {
      const run = cli(['--baseline', baseline ?? '', '--json', out]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^apiloadtest: --baseline: /);
      expect(run.stderr).toContain(reason);
      expect(run.stderr).not.toContain('starting emulators');
      expect(existsSync(out)).toBe(false);
    }
  });

  it('compares with --baseline after the report, shows it in --html, and exits 1 on a regression', () => {
    // A baseline whose every request took 10 µs or less: this run's latencies are far above 10 % more.
    const baseline = join(dir, 'baseline.json');
    writeFileSync(baseline, JSON.stringify(reportOf('the-baseline', [5, 10])));
    const html = join(dir, 'compared.html');
    const run = cli([
      '--users',
      '2',
      '--calls',
      '3',
      '--baseline',
      baseline,
      '--max-regression',
      '10%',
      '--html',
      html,
    ]);
    expect(run.status).toBe(1);
    const report = run.stdout.indexOf('verdict    PASSED');
    const comparison = run.stdout.indexOf('compared with the-baseline');
    expect(report).toBeGreaterThan(-1);
    expect(comparison).toBeGreaterThan(report);
    expect(run.stdout).toMatch(/\(total\)\s+p95 ms\s+0\.01\s+[\d,.]+\s+\+[\d,.]+\s+\+[\d,.]+ %\s+REGRESSION/);
    expect(run.stdout).toMatch(/regression\(s\) beyond 10 %/);
    expect(run.stderr).toMatch(/apiloadtest: Regression: \d+ figure\(s\) worse than the baseline by more than 10 %/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<th>baseline</th>');
    expect(page).toContain('Baseline: run the-baseline');
  });
});
