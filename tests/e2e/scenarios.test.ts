/**
 * Scenarios end to end: the real workflows run locally against a loopback target that records every
 * request's name (path), user (from the bearer token) and headers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setLogSink } from '../../src/lib/log';
import { runLocal } from '../../src/local/local-run';

interface Seen {
  readonly path: string;
  readonly user: string;
  readonly region: string | undefined;
}

async function recordingTarget(): Promise<{ url: string; seen: Seen[]; stop: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}');
    seen.push({ path: String(req.url), user: String(claims.username), region: req.headers['x-region'] as string });
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`,
    seen,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

beforeAll(() => setLogSink(() => {}));
afterAll(() => setLogSink(undefined));

describe('scenarios through npm run local', () => {
  it('a 3:1 weighted mix reaches the target within ± 5% over 2,000 requests, each name reported apart', async () => {
    const target = await recordingTarget();
    try {
      const result = await runLocal({
        input: {
          users: { NumberOfUsers: 4 },
          load: { model: 'iterations', iterations: 500, concurrency: 4 },
          requests: [
            { name: 'list', path: '/items', weight: 3 },
            { name: 'get', path: '/items/{{randomInt 1 9}}', weight: 1 },
          ],
        },
        target: target.url,
      });
      expect(result.failure).toBeUndefined();
      expect(target.seen).toHaveLength(2_000);
      const list = target.seen.filter((s) => s.path === '/api/items').length;
      expect(list / 2_000).toBeGreaterThan(0.75 - 0.05);
      expect(list / 2_000).toBeLessThan(0.75 + 0.05);
      expect(result.report?.byName?.list?.requests.total).toBe(list);
      expect(result.report?.byName?.get?.requests.total).toBe(2_000 - list);
    } finally {
      await target.stop();
    }
  });

  it('a flow with {{username}} and --data rows: every path names the user whose token it carries, rows reach the right users', async () => {
    const target = await recordingTarget();
    try {
      const result = await runLocal({
        input: {
          users: { NumberOfUsers: 3 },
          load: { model: 'iterations', iterations: 4, concurrency: 1 },
          flow: true,
          requests: [
            { name: 'list', path: '/users/{{username}}/items' },
            { name: 'get', path: '/accounts/{{data.account}}', headers: { 'x-region': '{{data.region}}' } },
          ],
          data: { key: 'data/users.csv' },
        },
        // Two rows for three users: user i gets row i mod 2.
        dataFile: { key: 'data/users.csv', body: 'account,region\nacct-0,eu-west-1\nacct-1,us-east-1\n' },
        target: target.url,
      });
      expect(result.failure).toBeUndefined();
      expect(target.seen).toHaveLength(3 * 4 * 2);
      for (const s of target.seen.filter((x) => x.path.startsWith('/api/users/'))) {
        expect(s.path).toBe(`/api/users/${s.user}/items`);
      }
      const rowOf = (user: string) => Number(user.replace('loadtestuser', '')) % 2;
      for (const s of target.seen.filter((x) => x.path.startsWith('/api/accounts/'))) {
        expect(s.path).toBe(`/api/accounts/acct-${rowOf(s.user)}`);
        expect(s.region).toBe(rowOf(s.user) === 0 ? 'eu-west-1' : 'us-east-1');
      }
      // Flow order per user: list, get, list, get, …
      const loadtestuser1 = target.seen.filter((s) => s.user === 'loadtestuser1').map((s) => s.path.split('/')[2]);
      expect(loadtestuser1).toEqual([
        'users',
        'accounts',
        'users',
        'accounts',
        'users',
        'accounts',
        'users',
        'accounts',
      ]);
    } finally {
      await target.stop();
    }
  });
});
