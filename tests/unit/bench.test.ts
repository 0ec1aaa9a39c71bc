import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RoundRun, renderTables, replaceGenerated } from '../../bench/compare';
import { BenchUsageError, parseEngineOnlyArgs } from '../../bench/engine-only';
import { parseJsonLine, parseTimes, parseWrkOutput } from '../../bench/generators';
import { findExecutable } from '../../bench/processes';
import { nginxConfig, TARGET_BODY } from '../../bench/target';

describe('bench --engine-only flags', () => {
  it('reads a duration or an amount, with 10 connections by default', () => {
    expect(
      parseEngineOnlyArgs(['--engine-only', '--url', 'http://127.0.0.1:1/x', '--duration', '3', '--json']),
    ).toEqual({
      url: new URL('http://127.0.0.1:1/x'),
      load: { model: 'duration', durationSeconds: 3, concurrency: 10 },
      json: true,
    });
    expect(parseEngineOnlyArgs(['--url', 'https://example.test/', '--connections', '100', '--amount', '5000'])).toEqual(
      {
        url: new URL('https://example.test/'),
        load: { model: 'iterations', iterations: 5000, concurrency: 100 },
        json: false,
      },
    );
  });

  it.each([
    [[], /^--url: required/],
    [['--url'], /'--url <value>' argument missing/],
    [['--url', 'not a url'], /^--url: not a URL/],
    [['--url', 'ftp://127.0.0.1/'], /^--url: must be http: or https:, got 'ftp:'/],
    [['--url', 'http://127.0.0.1/', '--connections', '0'], /^--connections: must be between 1 and 10000, got 0/],
    [['--url', 'http://127.0.0.1/', '--connections', '1.5'], /^--connections: must be a positive integer, got '1.5'/],
    [['--url', 'http://127.0.0.1/', '--duration', '-1'], /Option '--duration' argument is ambiguous/],
    [['--url', 'http://127.0.0.1/', '--duration', '1', '--amount', '5'], /^--duration, --amount: give one/],
    [['--url', 'http://127.0.0.1/', '--amount', '0'], /^--amount: must be between 1/],
    [['--url', 'http://127.0.0.1/', '--rate', '5'], /Unknown option '--rate'/],
  ])('refuses %j, naming the flag', (args, message) => {
    expect(() => parseEngineOnlyArgs(args)).toThrow(BenchUsageError);
    expect(() => parseEngineOnlyArgs(args)).toThrow(message);
  });
});

describe('bench helpers', () => {
  it('writes an nginx config that needs no root and keeps connections open', () => {
    const conf = nginxConfig(8123, '/tmp/x');
    expect(conf).toContain('daemon off;');
    expect(conf).toContain('worker_processes 1;');
    expect(conf).toContain('listen 127.0.0.1:8123;');
    expect(conf).toContain('keepalive_requests 1000000;');
    expect(conf).toContain('access_log off;');
    expect(conf).toContain(`return 200 '${TARGET_BODY}';`);
    // Every path nginx writes is under the given dir (Debian's defaults are root's).
    for (const line of conf.split('\n').filter((l) => /(_path|pid|error_log) /.test(l)))
      expect(line).toMatch(/ \/tmp\/x\//);
    expect(conf.match(/_temp_path /g)).toHaveLength(5);
  });

  it('finds an executable on PATH or in extra dirs, and only an executable one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    try {
      writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
      writeFileSync(join(dir, 'plain'), '');
      chmodSync(join(dir, 'tool'), 0o755);
      expect(findExecutable('tool', `/nonexistent:${dir}`)).toBe(join(dir, 'tool'));
      expect(findExecutable('tool', undefined, [dir])).toBe(join(dir, 'tool'));
      expect(findExecutable('plain', dir)).toBeUndefined();
      expect(findExecutable('tool', '/nonexistent')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads wrk --latency output, `times` output and a JSON line', () => {
    const wrk = `Running 1s test @ http://127.0.0.1:38997/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   243.82us  786.33us  13.47ms   94.29%
    Req/Sec    50.81k    22.84k   71.86k    81.82%
  Latency Distribution
     50%   63.00us
     75%  103.00us
     90%  366.00us
     99%    3.43ms
  55466 requests in 1.10s, 6.56MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  50447.99
Transfer/sec:      5.97MB
`;
    expect(parseWrkOutput(wrk)).toEqual({ requests: 55466, rps: 50448, p50Ms: 0.063, p99Ms: 3.43, errors: 7 });
    expect(() => parseWrkOutput('Running 1s test\n')).toThrow(/--latency/);
    expect(parseTimes('0m0.004s 0m0.001s\n1m2.500s 0m0.250s\n')).toBeCloseTo(62.75, 6);
    expect(() => parseTimes('garbage')).toThrow(/times/);
    expect(
      parseJsonLine('engine', 'noise\n{"requests":5,"rps":1,"cpuSeconds":0.1,"p50Ms":null,"p99Ms":2,"errors":0}\n'),
    ).toEqual({
      requests: 5,
      rps: 1,
      p50Ms: null,
      p99Ms: 2,
      errors: 0,
    });
    expect(() => parseJsonLine('autocannon', 'Error: boom')).toThrow(/autocannon printed no JSON line/);
  });

  it('takes each ratio within its round, then the median', () => {
    const run = (tool: RoundRun['tool'], round: number, rps: number, cpuSeconds: number, p50Ms: number): RoundRun => ({
      tool,
      round,
      connections: 10,
      requests: 1000,
      rps,
      p50Ms,
      p99Ms: p50Ms * 2,
      errors: 0,
      cpuSeconds,
    });
    const tables = renderTables(
      [
        run('engine', 0, 100, 0.04, 0.2),
        run('autocannon', 0, 200, 0.02, 0.1),
        run('engine', 1, 300, 0.03, 0.3),
        run('autocannon', 1, 200, 0.03, 0.3),
        run('engine', 2, 150, 0.05, 0.1),
        run('autocannon', 2, 100, 0.025, 0.2),
        run('wrk', 0, 1000, 0.01, 0.05),
      ],
      [10],
    );
    // req/s ratios 0.5, 1.5, 1.5; CPU 2, 1, 2; p50 2, 1, 0.5; engine/wrk CPU (round 0 only) 4.
    expect(tables).toContain('| 10 | 1.50× | 2.00× | 1.00× | 4.00× |');
    expect(tables).not.toContain('bottleneck');
    const slowTarget = renderTables(
      [run('engine', 0, 900, 0.04, 0.2), run('autocannon', 0, 800, 0.02, 0.1), run('wrk', 0, 1000, 0.01, 0.05)],
      [10],
    );
    expect(slowTarget).toContain(
      'At 10 connections wrk is within 1.5× of the others: the target may be the bottleneck',
    );
    expect(tables).toContain('| 10 | **our engine** | 150 (100–300) | 0.200 | 0.400 | 40.0 (30.0–50.0) | 0 | 3 |');
  });

  it('replaces only the generated block of docs/benchmarks.md', () => {
    const doc = '# Benchmarks\n\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\n\n## Analysis\n\nhand-written\n';
    expect(replaceGenerated(doc, 'new table')).toBe(
      '# Benchmarks\n\n<!-- bench:begin -->\nnew table\n<!-- bench:end -->\n\n## Analysis\n\nhand-written\n',
    );
    expect(replaceGenerated('# Benchmarks\n\n## Analysis\n', 'table')).toBe(
      '# Benchmarks\n\n<!-- bench:begin -->\ntable\n<!-- bench:end -->\n\n## Analysis\n',
    );
  });
});
