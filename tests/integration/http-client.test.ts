import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestSpec } from '../../src/lib/input';
import { runLoad } from '../../src/lib/load/engine';
import type { LoadModel } from '../../src/lib/load/model';
import { compileSingle } from '../../src/lib/load/scenario';
import { requestSpec } from '../helpers';

/**
 * The engine's HTTP/1.1 client against real loopback servers: Node's own (plain and TLS) for what a
 * well-behaved API does, and raw TCP servers for the framings and failures Node's server never sends.
 */

const spec = requestSpec;

const iterations = (n: number, concurrency = 1): LoadModel => ({ model: 'iterations', iterations: n, concurrency });

interface Target {
  readonly url: URL;
  /** Connections accepted, requests received. */
  readonly connections: () => number;
  readonly requests: () => number;
  readonly close: () => Promise<void>;
}

async function listen(server: Server | ReturnType<typeof createTcpServer>, scheme: string): Promise<URL> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return new URL(`${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}/`);
}

/** Node's HTTP (or HTTPS) server; `handle` answers each request. */
async function httpTarget(
  handle: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  tls?: { key: string; cert: string },
): Promise<Target> {
  let connections = 0;
  let requests = 0;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => handle(req, res, ++requests);
  const server: Server = tls ? createHttpsServer(tls, onRequest) : createServer(onRequest);
  server.on(tls ? 'secureConnection' : 'connection', () => connections++);
  const url = await listen(server, tls ? 'https' : 'http');
  return {
    url,
    connections: () => connections,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A raw TCP server: `answer` gets each request's head and writes whatever bytes the test needs. */
async function rawTarget(answer: (socket: Socket, head: string, n: number) => void): Promise<Target> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        answer(socket, head, ++requests);
      }
    });
  });
  const url = await listen(server, 'http');
  return {
    url,
    connections: () => connections,
    requests: () => requests,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function using<T>(started: Promise<Target>, body: (t: Target) => Promise<T>): Promise<T> {
  const target = await started;
  try {
    return await body(target);
  } finally {
    await target.close();
  }
}

const run = (target: Target, request: Partial<RequestSpec>, load: LoadModel, extra: { ca?: string } = {}) =>
  runLoad({ target: target.url, scenario: compileSingle(spec(request)), load, token: () => 'tok', ...extra });

describe('HTTP client: framing', () => {
  it('keeps connections alive: 200 requests over 2 connections open exactly 2', () =>
    using(
      httpTarget((_req, res) => res.end('ok')),
      async (target) => {
        const result = await run(target, {}, iterations(200, 2));
        expect(result.counters).toMatchObject({ total: 200, ok: 200, failed: 0 });
        expect(target.requests()).toBe(200);
        expect(target.connections()).toBe(2);
      },
    ));

  it('reads a Content-Length body that arrives in pieces, and times the response to its last byte', () =>
    using(
      httpTarget((_req, res) => {
        res.writeHead(200, { 'content-length': '2000' });
        res.write('a'.repeat(1000));
        setTimeout(() => res.end('b'.repeat(1000)), 60);
      }),
      async (target) => {
        const result = await run(target, {}, iterations(5));
        expect(result.counters).toMatchObject({ total: 5, ok: 5, failed: 0 });
        expect(target.connections()).toBe(1);
        expect(result.latency.minUs).toBeGreaterThanOrEqual(50_000);
      },
    ));

  it('reads chunked bodies, with chunk extensions and trailers, split anywhere', () =>
    using(
      rawTarget((socket, _head, n) => {
        const response =
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
          `5;ext=1\r\nhello\r\n${(n + 10).toString(16)}\r\n${'x'.repeat(n + 10)}\r\n0\r\nX-Trailer: yes\r\n\r\n`;
        // One byte per write for the first requests: every state of the reader sees a split.
        if (n <= 3) {
          let i = 0;
          const drip = () => {
            if (i < response.length) socket.write(response[i++] as string, drip);
          };
          drip();
        } else socket.write(response);
      }),
      async (target) => {
        const result = await run(target, {}, iterations(20));
        expect(result.counters).toMatchObject({ total: 20, ok: 20, failed: 0 });
        expect(target.connections()).toBe(1);
      },
    ));

  it('reads chunked bodies from Node’s server too (res.write without a length)', () =>
    using(
      httpTarget((_req, res) => {
        res.write('part one,');
        setTimeout(() => res.end('part two'), 5);
      }),
      async (target) => {
        const result = await run(target, {}, iterations(10, 2));
        expect(result.counters).toMatchObject({ total: 10, ok: 10 });
        expect(target.connections()).toBe(2);
      },
    ));

  it('opens a new connection after Connection: close, and counts every answer', () =>
    using(
      httpTarget((_req, res) => {
        res.setHeader('connection', 'close');
        res.end('bye');
      }),
      async (target) => {
        const result = await run(target, {}, iterations(12, 3));
        expect(result.counters).toMatchObject({ total: 12, ok: 12, failed: 0 });
        expect(target.connections()).toBe(12);
      },
    ));

  it('reads a body that runs until the server closes (no length, no chunking)', () =>
    using(
      rawTarget((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close')),
      async (target) => {
        const result = await run(target, {}, iterations(4));
        expect(result.counters).toMatchObject({ total: 4, ok: 4, failed: 0 });
        expect(target.connections()).toBe(4);
      },
    ));

  it('skips 1xx interim answers (100 Continue, 103 Early Hints) and counts the final status', () =>
    using(
      rawTarget((socket) =>
        socket.write(
          'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n' +
            'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
        ),
      ),
      async (target) => {
        const result = await run(target, { method: 'POST', body: '{}' }, iterations(6));
        expect(result.counters).toMatchObject({ total: 6, ok: 6, statusCodes: { '201': 6 } });
        expect(target.connections()).toBe(1);
      },
    ));

  it('reads no body after HEAD, 204 and 304, and reuses the connection', async () => {
    await using(
      httpTarget((_req, res) => {
        res.setHeader('content-length', '1000');
        res.end(_req.method === 'HEAD' ? undefined : 'x'.repeat(1000));
      }),
      async (target) => {
        const result = await run(target, { method: 'HEAD' }, iterations(10));
        expect(result.counters).toMatchObject({ total: 10, ok: 10, failed: 0 });
        expect(target.connections()).toBe(1);
      },
    );
    await using(
      rawTarget((socket, _head, n) =>
        socket.write(
          n % 2 === 0 ? 'HTTP/1.1 204 No Content\r\n\r\n' : 'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n',
        ),
      ),
      async (target) => {
        const result = await run(target, {}, iterations(10));
        expect(result.counters).toMatchObject({ total: 10, ok: 10, statusCodes: { '204': 5, '304': 5 } });
        expect(target.connections()).toBe(1);
      },
    );
  });

  it('sends the body, its length and the token, and nothing the server must guess', () => {
    const seen: { method?: string; length?: string; auth?: string; host?: string; body: string }[] = [];
    return using(
      httpTarget((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (d) => {
          body += d;
        });
        req.on('end', () => {
          seen.push({
            method: req.method,
            length: req.headers['content-length'],
            auth: req.headers.authorization,
            host: req.headers.host,
            body,
          });
          res.end();
        });
      }),
      async (target) => {
        const body = '{"name":"zoë"}';
        const result = await run(
          target,
          { method: 'PUT', body, headers: { 'content-type': 'application/json' } },
          iterations(3),
        );
        expect(result.counters).toMatchObject({ total: 3, ok: 3 });
        expect(seen).toHaveLength(3);
        expect(seen[0]).toEqual({
          method: 'PUT',
          length: String(Buffer.byteLength(body)),
          auth: 'Bearer tok',
          host: target.url.host,
          body,
        });
      },
    );
  });
});

describe('HTTP client: failures, each counted once', () => {
  it('counts a reset mid-body and a close before any byte as ECONNRESET, and goes on', () =>
    using(
      rawTarget((socket, _head, n) => {
        if (n % 3 === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf', () => socket.destroy());
        else if (n % 3 === 2) socket.destroy();
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }),
      async (target) => {
        const result = await run(target, {}, iterations(9));
        expect(result.counters).toMatchObject({
          total: 9,
          ok: 3,
          failed: 6,
          responses: 3,
          errors: { ECONNRESET: 6 },
        });
        expect(target.requests()).toBe(9);
      },
    ));

  it('never sends a request twice: on a kept-alive socket the server closed without saying so, it fails once', () => {
    let answered = 0;
    return using(
      // Closes after every answer without `Connection: close`: the next request may leave on a socket
      // already closed, which the server never answers.
      rawTarget((socket) => {
        if (socket.writableEnded) return;
        answered++;
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }),
      async (target) => {
        const result = await run(target, {}, iterations(50));
        expect(result.counters.total).toBe(50);
        expect(result.counters.ok).toBe(answered);
        expect(result.counters.total - result.counters.ok).toBe(result.counters.errors.ECONNRESET ?? 0);
        expect(target.requests()).toBeLessThanOrEqual(50);
      },
    );
  });

  it('counts bytes that are not HTTP as invalid_response', () =>
    using(
      rawTarget((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n\r\n')),
      async (target) => {
        const result = await run(target, {}, iterations(3));
        expect(result.counters).toMatchObject({ total: 3, failed: 3, errors: { invalid_response: 3 } });
      },
    ));

  it('times out a slow answer at timeoutMs, drops that connection, and the next request gets a new one', () =>
    using(
      httpTarget((_req, res, n) => {
        if (n <= 2) setTimeout(() => res.end('late'), 400);
        else res.end('ok');
      }),
      async (target) => {
        const result = await run(target, { timeoutMs: 100 }, iterations(6));
        expect(result.counters).toMatchObject({ total: 6, ok: 4, failed: 2, errors: { timeout: 2 } });
        expect(target.connections()).toBe(3);
        expect(result.latency.maxUs).toBeLessThan(100_000);
      },
    ));

  it('counts an answer that came after timeoutMs as a timeout, even before the deadline sweep saw it', () =>
    using(
      httpTarget((_req, res) => setTimeout(() => res.end('just late'), 110)),
      async (target) => {
        const result = await run(target, { timeoutMs: 100 }, iterations(12, 6));
        expect(result.counters).toMatchObject({ total: 12, ok: 0, failed: 12, errors: { timeout: 12 } });
        expect(result.latency.maxUs).toBe(0);
      },
    ));

  it('times out a server that accepts and never answers, with every request accounted for', () =>
    using(
      rawTarget(() => {}),
      async (target) => {
        const result = await run(target, { timeoutMs: 60 }, iterations(8, 4));
        expect(result.counters).toMatchObject({ total: 8, failed: 8, errors: { timeout: 8 } });
      },
    ));
});

/** A self-signed certificate for 127.0.0.1, made by openssl (tests say so when it is missing). */
function selfSigned(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'apiloadtest-tls-'));
  try {
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    if (made.status !== 0) return undefined;
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tls = selfSigned();
if (!tls) console.warn('HTTP client TLS tests skipped: openssl is not on PATH (apt-get install openssl)');
const describeTls = tls ? describe : describe.skip;

describeTls(`HTTP client: TLS${tls ? '' : ' (skipped: openssl not on PATH)'}`, () => {
  const pair = tls as { key: string; cert: string };

  it('speaks HTTPS over kept-alive connections to a server it trusts', () =>
    using(
      httpTarget((_req, res) => res.end('secure'), pair),
      async (target) => {
        const result = await run(target, {}, iterations(100, 2), { ca: pair.cert });
        expect(result.counters).toMatchObject({ total: 100, ok: 100, failed: 0 });
        expect(target.connections()).toBe(2);
      },
    ));

  it('refuses a certificate it does not trust: every request a transport failure, none sent', () =>
    using(
      httpTarget((_req, res) => res.end('secure'), pair),
      async (target) => {
        const result = await run(target, {}, iterations(4, 2));
        expect(result.counters).toMatchObject({ total: 4, responses: 0, failed: 4 });
        expect(Object.keys(result.counters.errors)).toEqual(['DEPTH_ZERO_SELF_SIGNED_CERT']);
        expect(target.requests()).toBe(0);
      },
    ));
});
