import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../sls/definitions';
import type { RequestSpec, Thresholds } from '../src/lib/input';
import { encodeHistogram, newHistogram } from '../src/lib/load/histogram';
import { countOutcome, newCounters } from '../src/lib/load/summary';
import { mergeSummaries, type Report } from '../src/lib/report/report';

/** An error shaped like the SDK's service exceptions: what the code matches on is the name. */
export const awsError = (name: string): Error => Object.assign(new Error(name), { name });

/**
 * Packages the service offline (`sls package --stage ci`, with `--param`s), as a deploy would, into a
 * new temp dir the caller removes. sls and its esbuild plugin leave a folder of bundles per function
 * in TMPDIR on every package: they get a scratch TMPDIR of their own, removed here.
 */
export function packageService(params: readonly string[] = []): { dir: string; file: string; template: any } {
  const dir = mkdtempSync(join(tmpdir(), 'apiloadtest-package-'));
  const scratch = mkdtempSync(join(tmpdir(), 'apiloadtest-sls-tmp-'));
  try {
    execFileSync(
      process.execPath,
      [
        require.resolve('osls/bin/serverless.js'),
        'package',
        '--package',
        dir,
        '--stage',
        'ci',
        ...params.flatMap((param) => ['--param', param]),
      ],
      {
        cwd: ROOT,
        stdio: 'pipe',
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: '',
          AWS_SECRET_ACCESS_KEY: '',
          SLS_TELEMETRY_DISABLED: '1',
          TMPDIR: scratch,
        },
        timeout: 180_000,
      },
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const file = join(dir, 'cloudformation-template-update-stack.json');
  return { dir, file, template: JSON.parse(readFileSync(file, 'utf8')) };
}

/** A GET of /x with a 5 s timeout, with whatever a test changes. */
export const requestSpec = (overrides: Partial<RequestSpec> = {}): RequestSpec => ({
  method: 'GET',
  path: '/x',
  headers: {},
  body: null,
  timeoutMs: 5_000,
  ...overrides,
});

/** A JUnit file as a JUnit reader sees it: validated, parsed, entities decoded; returns its one suite. */
export function parseJunit(xml: string): any {
  const XmlParser = require('fast-xml-parser') as typeof import('fast-xml-parser');
  const valid = XmlParser.validate(xml);
  if (valid !== true) throw new Error(`invalid XML: ${JSON.stringify(valid)}`);
  const decode = (value: string) =>
    value.replace(
      /&(lt|gt|amp|quot|apos);/g,
      (_, e) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e as 'lt'],
    );
  return XmlParser.parse(xml, {
    ignoreAttributes: false,
    attributeNamePrefix: '',
    attrValueProcessor: decode,
    tagValueProcessor: decode,
  }).testsuites.testsuite;
}

/** A live (not zombie) process: a child that has exited but is not reaped yet counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** pid and every descendant, from the ppid field of /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(name), ppid);
    } catch {
      // Gone while listing.
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree;
}

/**
 * The report of one user whose requests took `latenciesUs` within one second, all answered 200 but
 * every `failEvery`-th (503), judged by `thresholds`.
 */
export function reportOf(
  runId: string,
  latenciesUs: readonly number[],
  { failEvery = 0, thresholds = {} }: { failEvery?: number; thresholds?: Thresholds } = {},
): Report {
  const counters = newCounters();
  const histogram = newHistogram();
  for (const [i, latency] of latenciesUs.entries()) {
    histogram.recordValue(latency);
    countOutcome(counters, { status: failEvery > 0 && (i + 1) % failEvery === 0 ? 503 : 200 }, 1_000_000 + i);
  }
  const encoded = encodeHistogram(histogram);
  const [minUs, maxUs] = [Math.min(...latenciesUs), Math.max(...latenciesUs)];
  const load = { model: 'iterations' as const, iterations: latenciesUs.length, concurrency: 1 };
  return mergeSummaries({ runId, target: 'http://127.0.0.1/', users: 1, load, thresholds }, [
    {
      version: 1,
      runId,
      userIndex: 0,
      username: 'loadtestuser0',
      counters,
      histogram: encoded,
      minLatencyUs: minUs,
      maxLatencyUs: maxUs,
      byName: { default: { counters, histogram: encoded, minUs, maxUs } },
      startedAt: 1_000_000,
      finishedAt: 1_001_000,
      lateStartMs: 0,
      tokenRefreshes: 0,
      tokenRefreshFailures: 0,
    },
  ]);
}
