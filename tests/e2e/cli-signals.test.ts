import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import { canConnect } from '../../src/local/ports';
import { isAlive, processTree } from '../helpers';

/** Linux only: the process tree and its sockets are read from /proc. */
const hasProc = existsSync('/proc/self/stat');
if (!hasProc) console.warn('cli-signals tests skipped: no /proc on this platform');
const describeWithProc = hasProc ? describe : describe.skip;

/** Loopback TCP ports the processes listen on (their socket inodes matched against /proc/net/tcp). */
function listeningPorts(pids: readonly number[]): number[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode) inodes.add(inode);
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // st 0A = LISTEN; column 9 is the inode.
      if (cols[3] === '0A' && inodes.has(cols[9] ?? '')) ports.push(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

/** The run's work dirs: those whose pid file names a process of the tree. */
const workDirs = (pids: readonly number[]): string[] =>
  readdirSync(tmpdir())
    .filter((name) => name.startsWith('apiloadtest-'))
    .map((name) => join(tmpdir(), name))
    .filter((dir) => {
      try {
        return pids.includes(Number(readFileSync(join(dir, 'apiloadtest.pid'), 'utf8')));
      } catch {
        return false;
      }
    });

// unref: a timer that lost a race must not hold jest open.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Starts the CLI in its own process group, so a failed test can still stop all of it by that group's id. */
function start(
  command: string,
  args: string[],
): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CI: 'true' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describeWithProc('stopping the CLI by signal stops everything it started', () => {
  const started: ChildProcess[] = [];
  afterEach(() => {
    // Only if an assertion failed midway: the group is this test's own.
    for (const child of started.splice(0)) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });

  it('SIGTERM to `npm run local` mid-load: within 5 s no process, port or work dir is left; exit 143', async () => {
    const run = start('npm', ['run', '-s', 'local', '--', '--users', '2', '--calls', '100000', '--concurrency', '1']);
    started.push(run.child);
    const npmPid = run.child.pid as number;
    await waitFor('the load', () => /load: .* [1-9][\d,]* requests/.test(run.stderr()), 60_000);
    const tree = processTree(npmPid);
    // npm, the CLI (exec'd over npm's shell) and cognito-local at least.
    expect(tree.length).toBeGreaterThanOrEqual(3);
    const ports = listeningPorts(tree);
    // KMS/Secrets, S3, cognito-local and the sample API.
    expect(ports.length).toBeGreaterThanOrEqual(4);
    const dirs = workDirs(tree);
    expect(dirs).toHaveLength(1);
    const dir = dirs[0] as string;
    // Owner only: cognito-local's database holds the test users' passwords.
    expect(statSync(dir).mode & 0o077).toBe(0);
    const db = join(dir, 'cognito', '.cognito', 'db');
    for (const file of readdirSync(db)) expect(statSync(join(db, file)).mode & 0o077).toBe(0);

    const signalledAt = Date.now();
    process.kill(npmPid, 'SIGTERM');
    await waitFor('every process of the run to end', () => tree.every((pid) => !isAlive(pid)), 5000);
    expect(Date.now() - signalledAt).toBeLessThan(5000);
    for (const port of ports) expect(await canConnect(port)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await run.exited).toBe(143);
  });

  it('Ctrl-C mid-load is the stop switch: the run ends within 3 s with a report marked stopped, and cleanup ran', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/local/cli.ts'), '--users', '3', '--rate', '20', '--duration', '60'],
      { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } },
    );
    started.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('the load', () => /load: .* [1-9][\d,]* requests/.test(stderr), 60_000);
    const tree = processTree(child.pid as number);
    const signalledAt = Date.now();
    process.kill(child.pid as number, 'SIGINT');
    // The load stops within a poll, Aggregate reports; then cleanup runs as usual.
    await waitFor('the stopped report', () => /STOPPED/.test(stdout), 3_000);
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
    const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/STOPPED\s+\S+: stopped by Ctrl-C/);
    expect(stdout).toMatch(/verdict\s+FAILED \(Stopped\)/);
    expect(stdout).toMatch(/cleanup\s+3 users and 1 secrets deleted/);
    await waitFor('the run to end', () => tree.every((pid) => !isAlive(pid)), 2000);
  });

  it('SIGINT to bin/apiloadtest.js during start-up: the work dir is removed and the run stops; exit 130', async () => {
    const run = start(process.execPath, [join(ROOT, 'bin', 'apiloadtest.js'), '--users', '2', '--calls', '1000']);
    started.push(run.child);
    const pid = run.child.pid as number;
    // As soon as the work dir exists, before the emulators are all up.
    await waitFor('the work dir', () => workDirs([pid]).length > 0, 30_000);
    const dirs = workDirs([pid]);
    expect(run.stderr()).not.toMatch(/planning|provisioning|load:/);
    const tree = processTree(pid);
    process.kill(pid, 'SIGINT');
    const code = await Promise.race([run.exited, sleep(5000).then(() => 'still running')]);
    expect(code).toBe(130);
    await waitFor('the run to end', () => tree.every((p) => !isAlive(p)), 2000);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  });
});
