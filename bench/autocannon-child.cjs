'use strict';
/**
 * autocannon through its JS API, alone in this process (plain node, no TypeScript loader), for the
 * side-by-side bench: node bench/autocannon-child.cjs URL CONNECTIONS AMOUNT. Prints one JSON line like
 * the engine-only mode's.
 *
 * Latencies are kept here from autocannon's own per-response timings (ms, from process.hrtime): its
 * result's percentiles come from a histogram of whole milliseconds, which reads 0 ms on loopback. One
 * store into a preallocated array per response is the only work this adds to autocannon's.
 */
const autocannon = require('autocannon');

const [url, connectionsArg, amountArg] = process.argv.slice(2);
const connections = Number(connectionsArg);
const amount = Number(amountArg);
const latencies = new Float64Array(amount + connections);
let count = 0;

const percentile = (sorted, p) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];

const started = performance.now();
const instance = autocannon(
  {
    url,
    connections,
    amount,
    timeout: 10,
    // The engine sends a bearer token with every request; so does autocannon here.
    headers: { authorization: 'Bearer bench-token' },
  },
  (error, result) => {
    const seconds = (performance.now() - started) / 1000;
    if (error) {
      console.error(error);
      process.exit(1);
    }
    const sorted = latencies.subarray(0, count).sort();
    const responses = Object.values(result.statusCodeStats).reduce((n, s) => n + s.count, 0);
    const requests = responses + result.errors;
    const round = (ms) => Math.round(ms * 1000) / 1000;
    console.log(
      JSON.stringify({
        requests,
        rps: Math.round(requests / seconds),
        p50Ms: count === 0 ? null : round(percentile(sorted, 50)),
        p99Ms: count === 0 ? null : round(percentile(sorted, 99)),
        errors: result.errors + result.non2xx,
      }),
    );
  },
);
instance.on('response', (_client, _statusCode, _bytes, responseTime) => {
  if (count < latencies.length) latencies[count++] = responseTime;
});
