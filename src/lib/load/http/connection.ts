import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type SecureContextOptions } from 'node:tls';
import { COMPLETE, INVALID, MORE, ResponseReader } from './response-reader';

/**
 * A lean HTTP/1.1 client for the load engine: one request at a time per keep-alive connection, the
 * request's bytes prepared by the caller, the response read for its status and framing only. It has
 * no per-request promise, header object or body stream; the engine's cost per request is what a load
 * generator pays for in Lambda (see docs/benchmarks.md).
 */

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** Extra trust for TLS (a self-signed test server); the system's CAs otherwise. */
  readonly ca?: SecureContextOptions['ca'];
}

/** The reader found bytes that are not an HTTP/1.1 response. */
export const INVALID_RESPONSE = 'invalid_response';
/** The connection closed or reset before the response was complete. */
export const CONNECTION_RESET = 'ECONNRESET';

/** Called once per request: a status, or no status (0) and an error name. */
export type Settle<T> = (connection: Connection<T>, status: number, error: string | undefined) => void;

export function endpointOf(target: URL, ca?: SecureContextOptions['ca']): Endpoint {
  const tls = target.protocol === 'https:';
  if (!tls && target.protocol !== 'http:') throw new Error(`target must be http: or https:, got ${target.protocol}`);
  return {
    // URL keeps the brackets of an IPv6 literal; the socket wants the bare address.
    host: target.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: target.port === '' ? (tls ? 443 : 80) : Number(target.port),
    tls,
    ...(ca === undefined ? {} : { ca }),
  };
}

/** A socket's error as the report names it: its code (ECONNREFUSED, a TLS code…), a broken pipe as a reset. */
function errorName(error: Error & { code?: unknown }): string {
  if (typeof error.code !== 'string') return error.name || 'unknown';
  return error.code === 'EPIPE' ? CONNECTION_RESET : error.code;
}

export class Connection<T> {
  /** The caller's record of the request in flight. */
  context: T | undefined;
  /** Monotonic ms after which the request in flight is a timeout (see ConnectionPool.sweep). */
  deadline = Number.POSITIVE_INFINITY;
  private socket: Socket | undefined;
  private readonly reader = new ResponseReader();
  private busy = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly settle: Settle<T>,
  ) {}

  /** Sends one request; `settle` is called exactly once, unless `abort` settles it first. */
  send(bytes: Buffer, head: boolean, deadline: number): void {
    this.busy = true;
    this.deadline = deadline;
    this.reader.start(head);
    (this.socket ?? this.open()).write(bytes);
  }

  /** Ends the request in flight with `error` (the timeout) and drops its socket: its answer may still come. */
  abort(error: string): void {
    if (!this.busy) return;
    this.drop();
    this.done(0, error);
  }

  close(): void {
    this.drop();
  }

  private open(): Socket {
    const { host, port } = this.endpoint;
    const socket = this.endpoint.tls
      ? connectTls({
          host,
          port,
          // SNI takes a host name, never an address.
          servername: /^[\d.]+$|:/.test(host) ? undefined : host,
          ca: this.endpoint.ca,
        })
      : connectTcp({ host, port });
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.onData(chunk);
    });
    socket.on('end', () => {
      if (socket === this.socket) this.onClosed(undefined);
    });
    socket.on('error', (error) => {
      if (socket === this.socket) this.onClosed(errorName(error));
    });
    socket.on('close', () => {
      if (socket === this.socket) this.onClosed(undefined);
    });
    return socket;
  }

  private onData(chunk: Buffer): void {
    if (!this.busy) {
      // Bytes nobody asked for: the connection's framing is lost.
      this.drop();
      return;
    }
    const result = this.reader.read(chunk);
    if (result === MORE) return;
    if (result === INVALID) {
      this.drop();
      this.done(0, INVALID_RESPONSE);
      return;
    }
    if (!this.reader.keepAlive) this.drop();
    this.done(this.reader.status, undefined);
  }

  /**
   * The socket ended, failed or closed: a body read until close is complete; anything else in flight
   * failed. Nothing is retried: a server that closes a kept-alive connection without saying
   * `Connection: close` (or whose idle timeout fires) as the next request leaves may have read it, so
   * that request is counted once, as a transport failure, and the target never sees it twice.
   */
  private onClosed(error: string | undefined): void {
    this.drop();
    if (!this.busy) return;
    if (error === undefined && this.reader.closed() === COMPLETE) {
      this.done(this.reader.status, undefined);
      return;
    }
    this.done(0, error ?? CONNECTION_RESET);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }

  private done(status: number, error: string | undefined): void {
    this.busy = false;
    this.deadline = Number.POSITIVE_INFINITY;
    this.settle(this, status, error);
  }
}

/**
 * Connections to one endpoint, reused last-in first-out. The engine never has more requests in flight
 * than its concurrency, so the pool opens at most that many; one timer checks every deadline.
 */
export class ConnectionPool<T> {
  private readonly free: Connection<T>[] = [];
  private readonly all: Connection<T>[] = [];
  private readonly ticker: NodeJS.Timeout;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly settle: Settle<T>,
    /** How often deadlines are checked: a timeout ends at most this late. */
    tickMs: number,
    private readonly now: () => number,
    private readonly timeoutError: string,
  ) {
    this.ticker = setInterval(() => this.sweep(), tickMs);
  }

  acquire(): Connection<T> {
    const reused = this.free.pop();
    if (reused) return reused;
    const created = new Connection(this.endpoint, this.settle);
    this.all.push(created);
    return created;
  }

  release(connection: Connection<T>): void {
    this.free.push(connection);
  }

  /** Ends every request past its deadline as a timeout. */
  sweep(): void {
    const at = this.now();
    for (const connection of this.all) if (connection.deadline <= at) connection.abort(this.timeoutError);
  }

  close(): void {
    clearInterval(this.ticker);
    for (const connection of this.all) connection.close();
  }
}

/** Methods whose request carries a length even with no body (RFC 9110 §8.6: a server may want one). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * A request's bytes. Header names and values were checked sendable (printable ASCII, no field the
 * client owns) before they get here; the body is UTF-8.
 */
export function requestBytes(
  method: string,
  path: string,
  host: string,
  headers: Readonly<Record<string, string>>,
  token: string,
  body: string | null,
): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
  head += `authorization: Bearer ${token}\r\n`;
  if (body !== null) head += `content-length: ${Buffer.byteLength(body)}\r\n`;
  else if (BODY_METHODS.has(method)) head += 'content-length: 0\r\n';
  head += '\r\n';
  return body === null || body === ''
    ? Buffer.from(head, 'latin1')
    : Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]);
}
