import { type AggregateTask, aggregateRun } from '../lib/aggregate';
import { lazyRuntime, type Runtime } from '../lib/deps';
import { log } from '../lib/log';

export const makeHandler = (runtime: () => Runtime) => async (event: AggregateTask) => {
  const { config, results } = runtime();
  const out = await aggregateRun(event, { results, target: config.targetUrl });
  const { requests, latencyMs, throughputRps, verdict, workers } = out.report;
  log('info', 'run aggregated', {
    runId: event.runId,
    total: requests.total,
    responses: requests.responses,
    failed: requests.failed,
    p95Ms: latencyMs?.p95 ?? null,
    throughputRps,
    failedWorkers: workers.failed,
    passed: verdict.passed,
    verdict: verdict.error,
    reportKey: out.reportKey,
  });
  return out;
};

export const handler = makeHandler(lazyRuntime());
