/**
 * One worker Lambda's load in its own process, for its peak memory: USERS users side by side, each
 * sending CALLS requests with one in flight (the plan's split for 10,000 users is 13 users a worker),
 * against the loopback server on the port given. Prints one JSON line.
 *
 *   tsx bench/worker-memory.ts PORT [USERS] [CALLS]
 */
import { runLoad } from '../src/lib/load/engine';
import { compileSingle } from '../src/lib/load/scenario';

async function main(): Promise<void> {
  const [port, users = '13', calls = '100000'] = process.argv.slice(2);
  const target = new URL(`http://127.0.0.1:${port}/bench`);
  const request = { method: 'GET' as const, path: '', headers: {}, body: null, timeoutMs: 10_000 };
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: Number(users) }, () =>
      runLoad({
        target,
        scenario: compileSingle(request),
        load: { model: 'iterations', iterations: Number(calls), concurrency: 1 },
        token: async () => 'bench-token',
      }),
    ),
  );
  const ok = results.reduce((n, r) => n + r.counters.ok, 0);
  // ru_maxrss is in KiB on Linux: the peak resident set of this whole process.
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      users: Number(users),
      calls: Number(calls),
      ok,
      seconds: (performance.now() - started) / 1000,
      maxRssMiB,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
