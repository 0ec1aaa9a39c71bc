import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pinned, spawnGroup, tempDir, withTimeLimit } from './processes';

export type Tool = 'engine' | 'autocannon' | 'wrk';

/** One generator run, measured the same way for every tool. */
export interface GeneratorRun {
  readonly tool: Tool;
  readonly connections: number;
  /** Attempted requests (responses + transport failures). */
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly errors: number;
  /** user + system CPU of the whole generator process and its children, from bash's `times`. */
  readonly cpuSeconds: number;
}

/**
 * Why `times`: Node's child_process gives no resource usage of a child, and /proc/PID/stat is gone (or
 * a zombie already reaped by libuv) by the time 'exit' fires. bash waits for the command, the kernel
 * adds the command's user and system time (with every descendant it waited for: threads, workers) to
 * bash's children's times, and `times` prints them with millisecond resolution. bash's own CPU is on a
 * separate line and is not counted.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script, not a template.
const TIMES_WRAPPER = '"${@:2}"; rc=$?; times > "$1"; exit $rc';

/** The children's user + system seconds from `times` output (second line: children's "user sys"). */
export function parseTimes(text: string): number {
  const line = text.trim().split('\n')[1];
  const match = line?.match(/^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/);
  if (!match) throw new Error(`bench: unexpected \`times\` output: ${JSON.stringify(text)}`);
  const [, um, us, sm, ss] = match.map(Number) as [number, number, number, number, number];
  return um * 60 + us + sm * 60 + ss;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's latency as printed ("95.00us", "1.23ms", "1.00s") in milliseconds. */
function wrkMs(value: string): number {
  const match = value.match(/^([\d.]+)(us|ms|s|m)$/);
  const unit = match?.[2];
  if (!match || unit === undefined) throw new Error(`bench: unexpected wrk latency '${value}'`);
  return Math.round(Number(match[1]) * (unitMs[unit] ?? Number.NaN) * 1000) / 1000;
}

/** The figures of `wrk --latency` output: requests, req/s, p50/p99 and errors (socket errors + non-2xx/3xx). */
export function parseWrkOutput(text: string): Omit<GeneratorRun, 'tool' | 'connections' | 'cpuSeconds'> {
  const requests = text.match(/^\s*(\d+) requests in /m);
  const rps = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  const p50 = text.match(/^\s+50%\s+(\S+)/m);
  const p99 = text.match(/^\s+99%\s+(\S+)/m);
  if (!requests?.[1] || !rps?.[1] || !p50?.[1] || !p99?.[1])
    throw new Error(`bench: unexpected wrk output (was --latency given?):\n${text}`);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0;
  const non2xx = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  return {
    requests: Number(requests[1]),
    rps: Math.round(Number(rps[1])),
    p50Ms: wrkMs(p50[1]),
    p99Ms: wrkMs(p99[1]),
    errors: socketErrors + non2xx,
  };
}

/** The JSON line a Node generator prints last (engine-only mode, autocannon-child.cjs). */
export function parseJsonLine(tool: Tool, stdout: string): Omit<GeneratorRun, 'tool' | 'connections' | 'cpuSeconds'> {
  const line = stdout.trim().split('\n').pop() ?? '';
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`bench: ${tool} printed no JSON line:\n${stdout}`);
  }
  const num = (key: string) => {
    const value = parsed[key];
    if (typeof value !== 'number') throw new Error(`bench: ${tool}'s JSON has no number '${key}': ${line}`);
    return value;
  };
  const orNull = (key: string) => (parsed[key] === null ? null : num(key));
  return {
    requests: num('requests'),
    rps: num('rps'),
    p50Ms: orNull('p50Ms'),
    p99Ms: orNull('p99Ms'),
    errors: num('errors'),
  };
}

/** Builds the engine-only entry into one CommonJS file run by plain node; returns it and its cleanup. */
export async function buildEngineBundle(): Promise<{ file: string; remove: () => void }> {
  const { build } = await import('esbuild');
  const { dir, remove } = tempDir('apiloadtest-bench-engine-');
  const file = join(dir, 'engine-only.cjs');
  await build({
    entryPoints: [join(__dirname, 'engine-only-cli.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    logLevel: 'error',
  });
  return { file, remove };
}

export interface Tools {
  readonly bash: string;
  readonly node: string;
  readonly engineBundle: string;
  readonly wrk: string | undefined;
  readonly taskset: string | undefined;
  readonly timeout: string | undefined;
  /** CPU the generators run on, when pinned. */
  readonly cpu: number | undefined;
}

/** One run to make: the tool, its target and load. */
export interface RunSpec {
  readonly tool: Tool;
  readonly url: string;
  readonly connections: number;
  /** Requests to send (engine, autocannon). */
  readonly amount: number;
  /** How long wrk runs: it takes a duration, not a number of requests. */
  readonly wrkSeconds: number;
}

/** The command line of one tool's run (without pinning, time limit and `times`). */
export function toolCommand(tools: Tools, { tool, url, connections, amount, wrkSeconds }: RunSpec): readonly string[] {
  switch (tool) {
    case 'engine':
      return [
        tools.node,
        tools.engineBundle,
        '--url',
        url,
        '--connections',
        String(connections),
        '--amount',
        String(amount),
        '--json',
      ];
    case 'autocannon':
      return [tools.node, join(__dirname, 'autocannon-child.cjs'), url, String(connections), String(amount)];
    case 'wrk':
      if (tools.wrk === undefined) throw new Error('bench: wrk is not installed');
      // One thread: the generator has one core, and wrk's ceiling is per core.
      return [
        tools.wrk,
        '-t1',
        `-c${connections}`,
        `-d${wrkSeconds}s`,
        '--latency',
        '-H',
        'Authorization: Bearer bench-token',
        url,
      ];
  }
}

/** Runs one generator pinned, time-limited and wrapped in `times`; rejects on a failed or silent run. */
export async function runGenerator(tools: Tools, spec: RunSpec): Promise<GeneratorRun> {
  const { tool, connections } = spec;
  const limitSeconds = 120;
  const { dir, remove } = tempDir('apiloadtest-bench-times-');
  const timesFile = join(dir, 'times');
  const command = pinned(tools.taskset, tools.cpu, [
    tools.bash,
    '-c',
    TIMES_WRAPPER,
    'bench-generator',
    timesFile,
    ...withTimeLimit(tools.timeout, limitSeconds, toolCommand(tools, spec)),
  ]);
  try {
    const [file, ...args] = command as [string, ...string[]];
    // LC_ALL=C: `times` prints the locale's decimal separator.
    const child = spawnGroup(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
      limitMs: (limitSeconds + 15) * 1000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    });
    if (code !== 0) throw new Error(`bench: ${tool} exited with ${code}:\n${stderr}${stdout}`);
    const figures = tool === 'wrk' ? parseWrkOutput(stdout) : parseJsonLine(tool, stdout);
    return { tool, connections, ...figures, cpuSeconds: parseTimes(readFileSync(timesFile, 'utf8')) };
  } finally {
    remove();
  }
}
