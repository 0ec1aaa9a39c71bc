import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canConnect, freePort } from './ports';

export interface CognitoLocal {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;

/**
 * Runs cognito-local as a child process in `workDir` (its data lives in `.cognito/` there), with a
 * config for plain usernames and an issuer on loopback. The child is started with an IPC channel and
 * exits when the channel closes, so it cannot outlive this process even if this one is killed.
 */
export async function startCognitoLocal(workDir: string): Promise<CognitoLocal> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  mkdirSync(join(workDir, '.cognito'), { recursive: true });
  writeFileSync(
    join(workDir, '.cognito', 'config.json'),
    JSON.stringify({
      UserPoolDefaults: { UsernameAttributes: [] },
      TokenConfig: { IssuerDomain: endpoint },
      ServerConfig: { port, hostname: '127.0.0.1' },
    }),
    { mode: 0o600 },
  );
  const bin = require.resolve('cognito-local/lib/bin/start.js');
  // umask 077: its database holds the test users' passwords in plain text, readable by the owner only.
  const guard = `process.umask(0o077); process.on('disconnect', () => process.exit(0)); require(${JSON.stringify(bin)});`;
  const child: ChildProcess = spawn(process.execPath, ['-e', guard], {
    cwd: workDir,
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  // The IPC guard ends it only once this process is gone, too late for the exit handler that removes its
  // directory: killed ahead of that handler (prepended, as that one is registered first).
  const killOnExit = () => child.kill('SIGKILL');
  process.prependOnceListener('exit', killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.removeListener('exit', killOnExit);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`cognito-local did not start on ${endpoint}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (child.pid === undefined) throw new Error('cognito-local has no pid');
  return { endpoint, pid: child.pid, stop };
}
