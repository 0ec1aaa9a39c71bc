import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { canConnect, freePort } from '../src/local/ports';

export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Enough for Python to import moto on a busy machine; it usually answers within 2-3 s. */
const START_TIMEOUT_MS = 20_000;
/** moto stops by itself after this, even if the test process is killed before its afterAll. */
const LIFETIME_SECONDS = 180;

/** Whether `moto_server` is on the PATH; when it is not, the tests that need it say they were skipped. */
export const motoAvailable = (): boolean =>
  spawnSync('sh', ['-c', 'command -v moto_server'], { stdio: 'ignore' }).status === 0;

/**
 * Starts moto on a free loopback port. `moto_server` is a pyenv shim that execs through two scripts, so
 * it runs in its own process group and stop() signals that group: the PID we hold and everything it
 * became, nothing else.
 */
export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'timeout',
    [String(LIFETIME_SECONDS), 'moto_server', '-H', '127.0.0.1', '-p', String(port)],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  const signal = (name: NodeJS.Signals) => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-pid, name);
      } catch {
        // already gone
      }
    }
  };
  const stop = async () => {
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 3_000);
    if (child.exitCode === null && child.signalCode === null) await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not start on ${endpoint}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { endpoint, stop };
}
