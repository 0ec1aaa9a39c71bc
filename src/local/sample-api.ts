import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type JwtVerifier, TokenRejected } from './jwt-verifier';

/** What the sample API saw: tests and the CLI compare it with the report. */
export interface ApiStats {
  total: number;
  accepted: number;
  rejected: number;
  /** username -> accepted requests. */
  readonly byUser: Map<string, number>;
  /** rejection reason -> count. */
  readonly rejections: Map<string, number>;
}

export interface SampleApi {
  readonly url: string;
  readonly stats: ApiStats;
  stop(): Promise<void>;
}

/**
 * A protected API on loopback: 401 unless the bearer token passes the same checks as API Gateway's
 * JWT authorizer; 200 with a small JSON body otherwise.
 */
export async function startSampleApi(verifier: JwtVerifier): Promise<SampleApi> {
  const stats: ApiStats = { total: 0, accepted: 0, rejected: 0, byUser: new Map(), rejections: new Map() };
  const server: Server = createServer(async (req, res) => {
    stats.total++;
    for await (const _chunk of req) {
      // drain the request body
    }
    try {
      const { username } = await verifier.verify(req.headers.authorization);
      stats.accepted++;
      stats.byUser.set(username, (stats.byUser.get(username) ?? 0) + 1);
      const body = JSON.stringify({ ok: true, user: username, path: req.url, at: Date.now() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      stats.rejected++;
      const reason = error instanceof TokenRejected ? error.message : 'verifier error';
      stats.rejections.set(reason, (stats.rejections.get(reason) ?? 0) + 1);
      const body = JSON.stringify({ message: 'Unauthorized' });
      res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Every user opens its connections at the barrier: a backlog of Node's default 511 would drop SYNs.
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/items`,
    stats,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
