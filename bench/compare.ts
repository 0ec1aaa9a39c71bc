import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, type } from 'node:os';
import { join } from 'node:path';
import { buildEngineBundle, type GeneratorRun, runGenerator, type Tool, type Tools } from './generators';
import { findExecutable, runsOk } from './processes';
import { startTarget } from './target';

export interface CompareOptions {
  /** Requests per run of the engine and autocannon (wrk runs for the seconds that take it as many). */
  readonly requests: number;
  readonly rounds: number;
  readonly connections: readonly number[];
  /** Where to write the table (docs/benchmarks.md), or undefined to only print it. */
  readonly docsFile: string | undefined;
  /** The Node target even where nginx is installed. */
  readonly nodeTarget: boolean;
  /** The command as typed, for the docs. */
  readonly command: string;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** A run and the round it belongs to: ratios compare runs of the same round. */
export type RoundRun = GeneratorRun & { readonly round: number };

export const cpuMicrosPerRequest = (run: Pick<GeneratorRun, 'cpuSeconds' | 'requests'>): number =>
  (run.cpuSeconds * 1e6) / Math.max(1, run.requests);

/** Sbin directories Debian's nginx lives in; not on a normal user's PATH. */
const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly node: string;
  readonly os: string;
  /** "nginx 1.22.1 (one worker)" or "node v20… http server". */
  readonly target: string;
  /** How target and generators were pinned, or why they were not. */
  readonly pinning: string;
  /** The 1-minute load average when the comparison started: other work on the machine skews absolutes. */
  readonly load: number;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const fmtMs = (ms: number | null) => (ms === null ? 'n/a' : ms < 1 ? ms.toFixed(3) : ms.toFixed(2));
const range = (values: readonly number[], digits = 0) =>
  values.length < 2
    ? fmt(median(values), digits)
    : `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

/** The table (Markdown) of every tool at every connection count, and the engine's ratios. */
export function renderTables(runs: readonly RoundRun[], connections: readonly number[]): string {
  const tools = (['wrk', 'autocannon', 'engine'] as const).filter((t) => runs.some((r) => r.tool === t));
  const names: Record<Tool, string> = { wrk: 'wrk (C), the ceiling', autocannon: 'autocannon 9', engine: 'our engine' };
  const lines = [
    '| connections | generator | req/s, median (min–max) | p50 ms | p99 ms | CPU µs / request, median (min–max) | errors | runs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of connections)
    for (const tool of tools) {
      const mine = runs.filter((r) => r.tool === tool && r.connections === c);
      if (mine.length === 0) continue;
      const p = (key: 'p50Ms' | 'p99Ms') => {
        const values = mine.map((r) => r[key]).filter((v): v is number => v !== null);
        return values.length === 0 ? null : median(values);
      };
      const name = tool === 'engine' ? `**${names[tool]}**` : names[tool];
      lines.push(
        `| ${c} | ${name} | ${range(mine.map((r) => r.rps))} | ${fmtMs(p('p50Ms'))} | ${fmtMs(p('p99Ms'))} | ${range(
          mine.map(cpuMicrosPerRequest),
          1,
        )} | ${mine.reduce((n, r) => n + r.errors, 0)} | ${mine.length} |`,
      );
    }
  // wrk is the ceiling only while the target outpaces it; near the others, the target is what is measured.
  for (const c of connections) {
    const medianRps = (tool: Tool) =>
      median(runs.filter((r) => r.tool === tool && r.connections === c).map((r) => r.rps));
    const wrk = medianRps('wrk');
    const others = Math.max(medianRps('engine'), medianRps('autocannon'));
    if (wrk > 0 && wrk < 1.5 * others)
      lines.push('', `At ${c} connections wrk is within 1.5× of the others: the target may be the bottleneck there.`);
  }
  const ratios = ratioRows(runs, connections);
  if (ratios.length === 0) return lines.join('\n');
  return [
    ...lines,
    '',
    'Engine / autocannon, the median of the ratios of each round (the goal: req/s ≥ 1.0, CPU per request ≤ 1.0, p50 ≤ 1.1):',
    '',
    '| connections | req/s | CPU µs / request | p50 | engine / wrk CPU µs / request |',
    '| --- | --- | --- | --- | --- |',
    ...ratios,
  ].join('\n');
}

/** Ratios per round (runs of the same round and connections), then their median. */
function ratioRows(runs: readonly RoundRun[], connections: readonly number[]): string[] {
  const rows: string[] = [];
  const rounds = Math.max(0, ...runs.map((r) => r.round)) + 1;
  for (const c of connections) {
    const per = (tool: Tool, round: number) =>
      runs.find((r) => r.tool === tool && r.connections === c && r.round === round);
    const rps: number[] = [];
    const cpu: number[] = [];
    const p50: number[] = [];
    const wrkCpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const engine = per('engine', round);
      const ac = per('autocannon', round);
      const wrk = per('wrk', round);
      if (engine && ac) {
        rps.push(engine.rps / ac.rps);
        cpu.push(cpuMicrosPerRequest(engine) / cpuMicrosPerRequest(ac));
        if (engine.p50Ms !== null && ac.p50Ms !== null && ac.p50Ms > 0) p50.push(engine.p50Ms / ac.p50Ms);
      }
      if (engine && wrk) wrkCpu.push(cpuMicrosPerRequest(engine) / cpuMicrosPerRequest(wrk));
    }
    if (rps.length === 0 && wrkCpu.length === 0) continue;
    const r = (values: number[]) => (values.length === 0 ? 'n/a' : `${median(values).toFixed(2)}×`);
    rows.push(`| ${c} | ${r(rps)} | ${r(cpu)} | ${r(p50)} | ${r(wrkCpu)} |`);
  }
  return rows;
}

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';

/**
 * `existing` with the text between the markers replaced by `generated` (markers added at the top when
 * absent); everything outside the markers, the hand-written analysis, is kept as it was.
 */
export function replaceGenerated(existing: string, generated: string): string {
  const block = `${BEGIN}\n${generated.trim()}\n${END}`;
  const begin = existing.indexOf(BEGIN);
  const end = existing.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) {
    const [title, ...rest] = existing.split('\n');
    return title?.startsWith('# ')
      ? [title, '', block, '', ...rest].join('\n').replace(/\n{3,}/g, '\n\n')
      : `${block}\n\n${existing}`;
  }
  return `${existing.slice(0, begin)}${block}${existing.slice(end + END.length)}`;
}

function describeMachine(target: string, pinning: string): Machine {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    node: process.version,
    os: `${type()} ${release()}`,
    target,
    pinning,
    load: loadavg()[0] ?? 0,
  };
}

/** The side-by-side comparison: our engine, autocannon and wrk against one target, in alternation. */
export async function benchCompare(options: CompareOptions): Promise<void> {
  const bash = findExecutable('bash', process.env.PATH, ['/bin', '/usr/bin']);
  if (bash === undefined) throw new Error('bench: the comparison needs bash (for `times`, the CPU of each generator)');
  const cores = cpus().length;
  const tasksetPath = findExecutable('taskset', process.env.PATH, SBIN);
  // Two cores at least, and a kernel that lets us set affinity (some containers refuse).
  const taskset =
    tasksetPath !== undefined && cores >= 2 && runsOk([tasksetPath, '-c', '1', 'true']) ? tasksetPath : undefined;
  const pinning =
    taskset !== undefined
      ? 'target pinned to CPU 0 and each generator to CPU 1 with `taskset -c`'
      : tasksetPath === undefined
        ? 'not pinned: taskset is not installed'
        : `not pinned: ${cores < 2 ? 'one core only' : 'taskset -c 1 failed here'}`;
  const nginx = options.nodeTarget ? undefined : findExecutable('nginx', process.env.PATH, SBIN);
  const wrk = findExecutable('wrk', process.env.PATH);
  const timeout = findExecutable('timeout', process.env.PATH, ['/usr/bin', '/bin']);
  const toolList: Tool[] = wrk === undefined ? ['engine', 'autocannon'] : ['engine', 'autocannon', 'wrk'];

  const started = performance.now();
  const bundle = await buildEngineBundle();
  // Generous: the whole comparison's worst case (each run is also limited on its own).
  const limitSeconds = 60 + options.rounds * options.connections.length * toolList.length * 130;
  let target: Awaited<ReturnType<typeof startTarget>> | undefined;
  try {
    target = await startTarget({ nginxPath: nginx, tasksetPath: taskset, timeoutPath: timeout, cpu: 0, limitSeconds });
    const targetName =
      target.kind === 'nginx'
        ? `${nginxVersion(nginx)} (one worker, \`return 200\`)`
        : `a Node ${process.version} http server in its own process (${options.nodeTarget ? '--target node' : 'nginx is not installed'})`;
    const tools: Tools = {
      bash,
      node: process.execPath,
      engineBundle: bundle.file,
      wrk,
      taskset,
      timeout,
      cpu: taskset ? 1 : undefined,
    };
    const machine = describeMachine(targetName, pinning);
    console.log(`\ncompare    target: ${targetName} at ${target.url}`);
    console.log(`           ${pinning}`);
    console.log(
      `           ${toolList.join(', ')}${wrk === undefined ? ' (wrk is not on PATH: no ceiling)' : ''}; ${fmt(options.requests)} requests a run, ${options.rounds} rounds, connections ${options.connections.join(' and ')}`,
    );

    const runs: RoundRun[] = [];
    const lines: string[] = [];
    // wrk takes a duration: aim at the same number of requests from its last measured rate.
    const wrkRate = new Map<number, number>();
    for (let round = 0; round < options.rounds; round++) {
      // The order turns each round, so no tool always runs first (or right after another).
      const order = toolList.map((_, i) => toolList[(i + round) % toolList.length] as Tool);
      for (const connections of options.connections)
        for (const tool of order) {
          const wrkSeconds = Math.max(1, Math.round(options.requests / (wrkRate.get(connections) ?? 100_000)));
          const run = await runGenerator(tools, {
            tool,
            url: target.url,
            connections,
            amount: options.requests,
            wrkSeconds,
          });
          if (tool === 'wrk') wrkRate.set(connections, run.rps);
          runs.push({ ...run, round });
          const line = `round ${round + 1} c=${String(connections).padEnd(3)} ${tool.padEnd(10)} ${fmt(run.rps).padStart(7)} req/s  p50 ${fmtMs(run.p50Ms)} ms  p99 ${fmtMs(run.p99Ms)} ms  ${cpuMicrosPerRequest(run).toFixed(1).padStart(5)} µs CPU/request  (${fmt(run.requests)} requests, ${run.cpuSeconds.toFixed(2)} s CPU, ${run.errors} errors)`;
          lines.push(line);
          console.log(`           ${line}`);
        }
    }
    const tables = renderTables(runs, options.connections);
    console.log(`\n${tables}\n`);
    if (options.docsFile !== undefined) {
      writeDocs(options.docsFile, { tables, lines, machine, seconds: (performance.now() - started) / 1000 }, options);
      console.log(`           written to ${options.docsFile}`);
    }
  } finally {
    target?.stop();
    bundle.remove();
  }
}

function nginxVersion(nginx: string | undefined): string {
  if (nginx === undefined) return 'nginx';
  // nginx -v prints "nginx version: nginx/1.22.1" on stderr.
  const out = spawnSync(nginx, ['-v'], { encoding: 'utf8', timeout: 5_000 });
  const match = `${out.stderr}${out.stdout}`.match(/nginx\/(\S+)/);
  return match ? `nginx ${match[1]}` : 'nginx';
}

function writeDocs(
  file: string,
  out: { tables: string; lines: readonly string[]; machine: Machine; seconds: number },
  options: CompareOptions,
): void {
  const { machine } = out;
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : DOCS_SKELETON;
  const generated = `## Side by side (generated by \`npm run bench\`; do not edit between the markers)

Command: \`${options.command}\` — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${out.seconds.toFixed(0)} s for this section.

Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.os}, node ${machine.node}, load average ${machine.load.toFixed(2)} at the start. Target: ${machine.target}; ${machine.pinning}.
Each run: ${fmt(options.requests)} requests for our engine and autocannon (wrk: a whole number of seconds aiming at as many), ${options.rounds} rounds at ${options.connections.join(' and ')} connections, the tools in turn (the order rotates each round). CPU = user + sys of the whole generator process / its requests.

${out.tables}

<details><summary>Every run, in order</summary>

\`\`\`
${out.lines.join('\n')}
\`\`\`

</details>`;
  writeFileSync(file, replaceGenerated(existing, generated));
}

const DOCS_SKELETON = `# Benchmarks

`;

export const DOCS_FILE = join(__dirname, '..', 'docs', 'benchmarks.md');
