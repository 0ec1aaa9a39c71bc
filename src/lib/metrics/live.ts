import type { Latencies } from '../load/engine';
import { type Histogram, newHistogram } from '../load/histogram';
import type { Counters } from '../load/summary';
import { emfLines } from './emf';

/** Every 10 s: CloudWatch's high-resolution metrics go to 1 s, but 10 s keeps the log volume small. */
export const METRICS_INTERVAL_MS = 10_000;

interface Watched {
  readonly counters: Counters;
  readonly latency: Latencies;
  /** What was already published. */
  total: number;
  failed: number;
  readonly failures: Map<string, number>;
  readonly published: Histogram;
}

/** A status class (`5xx`) or a transport error name, for every failure in the counters. */
function failureKinds(counters: Counters): Map<string, number> {
  const kinds = new Map<string, number>();
  const add = (kind: string, n: number) => kinds.set(kind, (kinds.get(kind) ?? 0) + n);
  for (const [status, n] of Object.entries(counters.statusCodes)) {
    const code = Number(status);
    if (code < 200 || code >= 400) add(`${Math.floor(code / 100)}xx`, n);
  }
  for (const [name, n] of Object.entries(counters.errors)) add(name, n);
  return kinds;
}

/**
 * Publishes a worker's live metrics as EMF log lines: what its users did since the last interval,
 * read from the engine's own counters and histograms between requests (nothing in the request path).
 */
export function liveMetrics(options: {
  readonly stack: string;
  readonly runId: string;
  readonly emit: (line: string) => void;
  readonly intervalMs?: number;
  readonly now?: () => number;
}): { watch: (live: { counters: Counters; latency: Latencies }) => void; stop: () => void } {
  const watched: Watched[] = [];
  const now = options.now ?? Date.now;
  const publish = () => {
    const latency = newHistogram();
    let requests = 0;
    let failures = 0;
    const byKind: Record<string, number> = {};
    for (const w of watched) {
      requests += w.counters.total - w.total;
      failures += w.counters.failed - w.failed;
      w.total = w.counters.total;
      w.failed = w.counters.failed;
      for (const [kind, n] of failureKinds(w.counters)) {
        const delta = n - (w.failures.get(kind) ?? 0);
        if (delta > 0) byKind[kind] = (byKind[kind] ?? 0) + delta;
        w.failures.set(kind, n);
      }
      latency.add(w.latency.histogram);
      latency.subtract(w.published);
      w.published.reset();
      w.published.add(w.latency.histogram);
    }
    if (requests === 0 && latency.totalCount === 0) return;
    for (const line of emfLines({
      stack: options.stack,
      runId: options.runId,
      timestamp: now(),
      requests,
      failures,
      failuresByKind: byKind,
      latency,
    })) {
      options.emit(line);
    }
  };
  const timer = setInterval(publish, options.intervalMs ?? METRICS_INTERVAL_MS);
  return {
    watch: (live) =>
      watched.push({
        ...live,
        total: 0,
        failed: 0,
        failures: new Map(),
        published: newHistogram(),
      }),
    // The last, partial interval is published too: a short run still shows up.
    stop: () => {
      clearInterval(timer);
      publish();
    },
  };
}
