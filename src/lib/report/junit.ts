import type { Thresholds } from '../input';
import { count, ms, type ThresholdKey, thresholdValue } from './numbers';
import type { Report } from './report';

/**
 * The run as JUnit XML, the format CI systems display: one test case per threshold (configured, plus
 * the checks every run must pass), each failure carrying the limit and the observed value.
 */
const escapeXml = (text: string): string =>
  text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

interface Case {
  readonly name: string;
  /** Undefined when the case passed. */
  readonly failure?: string;
}

const LABELS: Record<ThresholdKey, string> = {
  p95Ms: 'p95 latency',
  p99Ms: 'p99 latency',
  maxErrorRate: 'error rate',
  minThroughputRps: 'throughput',
};

function cases(report: Report, thresholds: Thresholds): Case[] {
  const failed = new Map(report.thresholds.failures.map((f) => [f.threshold, f]));
  const out: Case[] = [
    {
      name: 'every request got a chance: responses received',
      failure: report.verdict.error === 'NoResponses' ? report.verdict.cause : undefined,
    },
    {
      name: 'the run was not stopped',
      failure: report.stopped ? `stopped at ${report.stopped.stoppedAt}: ${report.stopped.reason}` : undefined,
    },
    {
      name: 'every planned request was sent',
      failure: failed.get('allRequestsSent')?.message,
    },
    {
      name: `failed workers ≤ ${thresholds.maxFailedWorkers ?? 0}`,
      failure: report.verdict.error === 'WorkersFailed' ? report.verdict.cause : undefined,
    },
  ];
  for (const key of ['p95Ms', 'p99Ms', 'maxErrorRate', 'minThroughputRps'] as const) {
    const limit = thresholds[key];
    if (limit === undefined) continue;
    const failure = failed.get(key);
    const actual = failure?.actual ?? observedValue(report, key);
    const observed = actual === null ? 'n/a' : thresholdValue(key, actual, 'observed');
    const relation = key === 'minThroughputRps' ? '≥' : '≤';
    const bound = thresholdValue(key, limit, 'limit');
    out.push({
      name: `${LABELS[key]} ${relation} ${bound} (observed ${observed})`,
      failure: failure ? `${failure.message} (limit ${bound}, observed ${observed})` : undefined,
    });
  }
  // One case per named request: it fails when it got no response, or when its own error rate is above
  // the run's maxErrorRate (the same limit, judged per request).
  for (const [name, named] of Object.entries(report.byName)) {
    const { total, responses, failed: failures } = named.requests;
    const rate = total > 0 ? Math.round((failures / total) * 10_000) / 10_000 : null;
    const p95 = named.latencyMs?.p95;
    const key = 'maxErrorRate';
    const limit = thresholds[key];
    let failure: string | undefined;
    if (total > 0 && responses === 0) failure = `${name}: no response to ${count(total)} requests`;
    else if (rate !== null && limit !== undefined && rate > limit) {
      const [observed, bound] = [thresholdValue(key, rate, 'observed'), thresholdValue(key, limit, 'limit')];
      failure = `${name}: error rate ${observed} > ${bound} (limit ${bound}, observed ${observed})`;
    }
    out.push({
      name: `request ${name}: ${count(total)} sent, ${count(failures)} failed, p95 ${p95 === undefined ? 'n/a' : ms(p95)} ms`,
      failure,
    });
  }
  return out;
}

export function observedValue(report: Report, key: ThresholdKey): number | null {
  switch (key) {
    case 'p95Ms':
      return report.latencyMs?.p95 ?? null;
    case 'p99Ms':
      return report.latencyMs?.p99 ?? null;
    case 'maxErrorRate':
      return report.requests.total > 0
        ? Math.round((report.requests.failed / report.requests.total) * 10_000) / 10_000
        : null;
    case 'minThroughputRps':
      return report.throughputRps;
  }
}

export function renderJunit(report: Report, thresholds: Thresholds): string {
  const all = cases(report, thresholds);
  const failures = all.filter((c) => c.failure !== undefined).length;
  const suite = `apiloadtest ${report.runId}`;
  const body = all
    .map((c) => {
      const open = `    <testcase classname="${escapeXml(suite)}" name="${escapeXml(c.name)}" time="0">`;
      return c.failure === undefined
        ? `${open}</testcase>`
        : `${open}\n      <failure message="${escapeXml(c.failure)}" type="${escapeXml(report.verdict.error ?? 'Failed')}">${escapeXml(c.failure)}</failure>\n    </testcase>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="apiloadtest" tests="${all.length}" failures="${failures}" time="${report.durationSeconds}">
  <testsuite name="${escapeXml(suite)}" tests="${all.length}" failures="${failures}" errors="0" skipped="0" time="${report.durationSeconds}" timestamp="${escapeXml(report.startedAt.replace(/Z$/, ''))}">
${body}
  </testsuite>
</testsuites>
`;
}
