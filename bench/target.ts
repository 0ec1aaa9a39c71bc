import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pinned, spawnGroup, tempDir, withTimeLimit } from './processes';

/** What every target answers, to every path. */
export const TARGET_BODY = '{"ok":true}';

/**
 * nginx as a plain foreground process that needs no root and writes nothing outside `dir`: one worker,
 * no access log, every temp path in `dir` (Debian's defaults under /var/lib/nginx are root's), and
 * keep-alive connections kept for a million requests (the default 1,000 would close each connection
 * every 1,000 requests and count reconnects against every generator).
 */
export function nginxConfig(port: number, dir: string): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`)
    .join('\n');
  return `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
${temp}
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type application/json;
      return 200 '${TARGET_BODY}';
    }
  }
}
`;
}

/** The loopback Node target, for machines without nginx: in its own process, so its CPU is not the generator's. */
export const NODE_TARGET = `
const http = require('node:http');
const body = ${JSON.stringify(TARGET_BODY)};
const server = http.createServer((req, res) => { req.resume(); res.writeHead(200, {'content-type':'application/json','content-length':body.length}); res.end(body); });
server.keepAliveTimeout = 120000;
server.listen(Number(process.argv[1]), '127.0.0.1');
setTimeout(() => process.exit(0), Number(process.argv[2]) * 1000).unref();
`;

/** A port free on 127.0.0.1 now (the kernel's pick; a race with another process is possible but harmless: start fails). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('bench: no free port');
  return address.port;
}

async function waitListening(port: number, alive: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (!alive()) throw new Error(`bench: ${what} exited before listening on 127.0.0.1:${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await delay(50);
  }
  throw new Error(`bench: ${what} is not listening on 127.0.0.1:${port} after 5 s`);
}

export interface Target {
  readonly url: string;
  readonly kind: 'nginx' | 'node';
  readonly stop: () => void;
}

/** Starts `command` in its own process group and waits until it listens on `port`; kills it if it never does. */
async function launch(command: readonly string[], port: number, what: string, limitMs: number) {
  const [file, ...args] = command as [string, ...string[]];
  const child = spawnGroup(file, args, { stdio: ['ignore', 'ignore', 'inherit'], limitMs });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  try {
    await waitListening(port, () => !exited, what);
  } catch (error) {
    child.stopGroup();
    throw error;
  }
  return child;
}

/**
 * Starts the target: nginx when `nginxPath` is given, else the Node server; pinned to `cpu` when
 * `tasksetPath` is given, and stopping by itself after `limitSeconds`.
 */
export async function startTarget(options: {
  nginxPath: string | undefined;
  tasksetPath: string | undefined;
  timeoutPath: string | undefined;
  cpu: number | undefined;
  limitSeconds: number;
}): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/bench`;
  const limitMs = (options.limitSeconds + 10) * 1000;
  const pin = (command: readonly string[]) =>
    pinned(options.tasksetPath, options.cpu, withTimeLimit(options.timeoutPath, options.limitSeconds, command));
  if (options.nginxPath === undefined) {
    const command = [process.execPath, '-e', NODE_TARGET, String(port), String(options.limitSeconds)];
    const child = await launch(pin(command), port, 'the node target', limitMs);
    return { url, kind: 'node', stop: () => child.stopGroup() };
  }
  const { dir, remove } = tempDir('apiloadtest-bench-nginx-');
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(port, dir));
  // -e: nginx opens its error log before it reads the config; Debian's default is root's /var/log/nginx.
  const command = [options.nginxPath, '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  const child = await launch(pin(command), port, 'nginx', limitMs).catch((error: unknown) => {
    remove();
    throw error;
  });
  return {
    url,
    kind: 'nginx',
    stop: () => {
      child.stopGroup();
      remove();
    },
  };
}
