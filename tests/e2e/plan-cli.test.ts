import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import type { Estimate } from '../../src/lib/estimate/estimate';
import { usd } from '../../src/lib/estimate/estimate';
import { UsageError } from '../../src/local/cli';
import { parsePlanCli } from '../../src/local/plan-cli';

/** Any socket or DNS lookup fails the process: the plan is arithmetic and must not reach the network. */
const NO_NETWORK = `data:text/javascript,${encodeURIComponent(
  [
    'import net from "node:net"; import dns from "node:dns";',
    'const refuse = () => { throw new Error("network used by npm run plan"); };',
    'net.Socket.prototype.connect = refuse; dns.lookup = refuse; dns.promises.lookup = refuse;',
  ].join('\n'),
)}`;

const plan = (args: string[]) =>
  // As package.json's `plan` script runs it.
  spawnSync(
    process.execPath,
    ['--import', NO_NETWORK, '--import', 'tsx', join(ROOT, 'src/local/plan-cli.ts'), ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );

describe('npm run plan', () => {
  it('prints the timeline, the cost per service and in total, and the quota-bound start-up warning', () => {
    const run = plan(['--users', '10000', '--calls', '100']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\s+1\s+create users \*\s+500 s\s+20,000 Cognito writes/m);
    expect(run.stdout).toMatch(/^\s+501\s+start delay \*\s+105 s/m);
    expect(run.stdout).toMatch(/^start-up\s+606 s \(10\.1 min\) before the first request/m);
    expect(run.stdout).toMatch(/^lambda\s+peak concurrency 770 of a budget of 800/m);
    for (const service of ['Lambda', 'Step Functions', 'S3', 'Secrets Manager', 'KMS', 'Cognito', 'CloudWatch Logs'])
      expect(run.stdout).toMatch(new RegExp(`^  ${service}\\s+\\$\\d+\\.\\d+`, 'm'));
    expect(run.stdout).toMatch(/^ {2}total\s+\$1\.38$/m);
    expect(run.stdout).toMatch(/! StartupQuotaBound: start-up takes 606 s \(10\.1 min\)/);
    expect(run.stdout).toMatch(/! RequestRateAboveApiGatewayQuota: up to 100,000 requests\/s/);
  });

  it('--json gives the same numbers', () => {
    const text = plan(['--users', '10000', '--calls', '100']).stdout;
    const run = plan(['--users', '10000', '--calls', '100', '--json']);
    expect(run.status).toBe(0);
    const estimate = JSON.parse(run.stdout) as Estimate;
    expect(estimate.timeline.startupSeconds).toBe(606);
    expect(estimate.plan).toMatchObject({ users: 10_000, workers: 770, startDelaySeconds: 105 });
    expect(estimate.cost.totalUsd).toBeCloseTo(1.3793127, 6);
    expect(text).toContain(`${'total'.padEnd(18)} ${usd(estimate.cost.totalUsd).padStart(10)}`);
    for (const line of estimate.cost.lines)
      expect(text).toContain(`${line.service.padEnd(18)} ${usd(line.usd).padStart(10)}`);
    expect(estimate.warnings.map((w) => w.code)).toEqual(['StartupQuotaBound', 'RequestRateAboveApiGatewayQuota']);
    for (const warning of estimate.warnings) expect(text).toContain(`! ${warning.code}: ${warning.message}`);
  });

  it('reads --input and the stack settings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-cli-'));
    try {
      const file = join(dir, 'input.json');
      writeFileSync(
        file,
        JSON.stringify({
          users: { NumberOfUsers: 1000 },
          load: { model: 'rate', ratePerSecond: 20, durationSeconds: 600 },
        }),
      );
      const run = plan(['--input', file, '--region', 'eu-west-1', '--cognito-write-rps', '20', '--json']);
      expect(run.status).toBe(0);
      const estimate = JSON.parse(run.stdout) as Estimate;
      // 10 shards, 5 at a time at 20 / 5 = 4 writes/s: 200 / 4 = 50 s a shard, two rounds.
      expect(estimate.timeline.steps.find((s) => s.step === 'create users')?.seconds).toBe(100);
      expect(estimate.prices).toMatchObject({ pricedAs: 'eu-west-1', fallback: false });
      expect(estimate.target.requests).toBe(12_000_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 naming the flag on bad input', () => {
    const run = plan(['--users', '10000', '--region', 'mars']);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error: --region: must be a region name/);
  });

  it.each([
    [['--users', '0'], /^--users: must be between 1 and 10000, got 0$/],
    [['--cognito-write-rps', '0'], /^--cognito-write-rps: must be a positive number/],
    [['--max-concurrent-workers', '1.5'], /^--max-concurrent-workers: must be a positive whole number/],
    [['--assume-latency-ms', 'fast'], /^--assume-latency-ms: must be a positive number/],
    [['--region'], /^--region: needs a value$/],
    [['--json', '--json'], /^--json: is given more than once$/],
    [['--region', 'us-east-1', '--region=eu-west-1'], /^--region: is given more than once$/],
  ])('refuses %j', (args, message) => {
    expect(() => parsePlanCli(args)).toThrow(UsageError);
    expect(() => parsePlanCli(args)).toThrow(message);
  });

  it('takes its own flags in both forms and passes the rest to the local parser', () => {
    expect(parsePlanCli(['--users=50', '--region=eu-west-1', '--assume-latency-ms', '250', '--json'])).toMatchObject({
      input: { users: { NumberOfUsers: '50' } },
      region: 'eu-west-1',
      assumedLatencyMs: 250,
      cognitoWriteRps: 40,
      maxConcurrentWorkers: 800,
      json: true,
    });
  });
});
