import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Every process the bench starts is spawned in its own process group (detached) and killed as a group
 * by its PID: a generator runs under `bash -c` (for `times`) and nginx has a worker, so killing the
 * direct child alone would leave the real work running. Groups are killed on exit, on errors and on
 * Ctrl-C / SIGTERM; the commands also carry their own time limits (`timeout`), so even a bench killed
 * with SIGKILL leaves nothing running for long.
 */
const groups = new Set<number>();
/** Temp dirs and the like, removed at exit too (a signal's process.exit skips `finally` blocks). */
const cleanups = new Set<() => void>();

function killGroup(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  groups.delete(pid);
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const cleanUp = () => {
    for (const pid of [...groups]) killGroup(pid);
    for (const cleanup of [...cleanups]) cleanup();
  };
  process.on('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => {
      cleanUp();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
}

/** A temp dir removed by the returned function, or at exit (also on Ctrl-C) if that was never called. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => {
    cleanups.delete(remove);
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.add(remove);
  return { dir, remove };
}

/** Spawns `command` in its own process group, killed with it when the bench ends or after `limitMs`. */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { limitMs: number },
): ChildProcess & { stopGroup: () => void } {
  hookExit();
  const { limitMs, ...rest } = options;
  const child = spawn(command, args, { ...rest, detached: true });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`bench: could not start ${command}`);
  groups.add(pid);
  const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), limitMs);
  timer.unref();
  child.once('exit', () => {
    clearTimeout(timer);
    // The group may outlive its leader (nginx's worker): it goes with it.
    killGroup(pid);
  });
  return Object.assign(child, { stopGroup: () => killGroup(pid) });
}

/**
 * The path of an executable: on PATH, or in one of `extraDirs` (Debian's nginx lives in /usr/sbin,
 * which is not on a normal user's PATH). Undefined when absent.
 */
export function findExecutable(
  name: string,
  pathEnv: string | undefined,
  extraDirs: readonly string[] = [],
): string | undefined {
  const dirs = [...(pathEnv ?? '').split(delimiter).filter((d) => d !== ''), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Prefixes `command` with `timeout` (coreutils) when it exists, so it stops by itself after `seconds`. */
export function withTimeLimit(
  timeoutPath: string | undefined,
  seconds: number,
  command: readonly string[],
): readonly string[] {
  // --foreground keeps the command in our process group, so killing the group reaches it.
  return timeoutPath === undefined
    ? command
    : [timeoutPath, '--foreground', '-k', '5', String(Math.ceil(seconds)), ...command];
}

/** `taskset -c CPU command…` when taskset exists and the machine has that CPU, else the command. */
export function pinned(tasksetPath: string | undefined, cpu: number | undefined, command: readonly string[]) {
  return tasksetPath === undefined || cpu === undefined ? command : [tasksetPath, '-c', String(cpu), ...command];
}

/** True when `command --version`-like probing works (e.g. taskset exists but the kernel refuses affinity). */
export function runsOk(command: readonly string[]): boolean {
  const [file, ...args] = command;
  if (file === undefined) return false;
  const out = spawnSync(file, args, { stdio: 'ignore', timeout: 5_000 });
  return out.status === 0;
}
