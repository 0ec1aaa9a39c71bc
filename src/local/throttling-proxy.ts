import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ThrottlingProxyOptions {
  /** The emulator behind the proxy, `http://127.0.0.1:<port>`. */
  readonly target: string;
  /** Share of the matching calls answered with a throttling error instead of being forwarded, 0..1. */
  readonly share: number;
  /** Operations (the `X-Amz-Target` action, e.g. `AdminCreateUser`) that may be throttled; default all. */
  readonly operations?: readonly string[];
}

export interface ThrottlingProxy {
  readonly endpoint: string;
  /** Calls that reached the proxy, and those it throttled, by operation. */
  readonly calls: ReadonlyMap<string, number>;
  readonly throttled: ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);

/**
 * A loopback proxy in front of cognito-local that answers a share of the calls the way Cognito answers
 * over its quota: HTTP 400 with a `TooManyRequestsException` JSON error. cognito-local runs in its own
 * process and cannot throttle; answering on the wire (rather than in an SDK middleware) lets the SDK's
 * real error parsing and retry classification run. Throttling is deterministic: of every 1/share calls
 * of an operation, one is throttled, so a test's counts are exact.
 */
export async function startThrottlingProxy(options: ThrottlingProxyOptions): Promise<ThrottlingProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const calls = new Map<string, number>();
  const throttled = new Map<string, number>();
  const server = createServer((req, res) => {
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() || 'unknown';
    bump(calls, operation);
    const matches = !options.operations || options.operations.includes(operation);
    const seen = calls.get(operation) ?? 0;
    // Throttles the call at which the running total of `share` crosses the next whole number.
    if (matches && Math.floor(seen * options.share) > Math.floor((seen - 1) * options.share)) {
      bump(throttled, operation);
      req.resume();
      const body = JSON.stringify({ __type: 'TooManyRequestsException', message: 'Rate exceeded' });
      res.writeHead(400, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-errortype': 'TooManyRequestsException',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    const upstream = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    throttled,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
