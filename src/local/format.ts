import type { CleanupResult } from '../lib/cleanup';
import { describeLoad } from '../lib/load/model';
import { ms, count as n, rate, seconds } from '../lib/report/numbers';
import type { Report } from '../lib/report/report';
import type { Progress } from './local-run';

export function progressLine(p: Progress): string {
  switch (p.phase) {
    case 'starting':
      return 'starting emulators and the sample API…';
    case 'planning':
      return 'planning the run…';
    case 'provisioning':
      return `provisioning users: ${n(p.usersProvisioned)}/${n(p.users)}${
        p.usersProvisioned > 0 ? ` (${n(p.usersCreated)} created, ${n(p.usersReused)} reused)` : ''
      }`;
    case 'load':
    case 'aggregating':
      if (p.phase === 'load' && p.barrierAt !== undefined && p.requestsDone === 0 && Date.now() < p.barrierAt) {
        return `load: ${n(p.workersStarted)}/${n(p.workers)} workers logging in; waiting ${Math.ceil((p.barrierAt - Date.now()) / 1000)} s for the start barrier`;
      }
      return `load: workers ${n(p.workersFinished)}/${n(p.workers)} done (${n(p.workersStarted - p.workersFinished)} running), ${n(p.requestsDone)} requests, ${n(p.currentRps)} responses/s${p.phase === 'aggregating' ? ' — aggregating…' : ''}`;
    case 'cleanup':
      return 'cleaning up: deleting test users, secrets and key…';
    case 'done':
      return 'done';
  }
}

/** A TTY line is redrawn at most this often: provisioning reports every user. */
const REDRAW_MS = 100;
/** A log (no TTY) gets a line at most this often while nothing else calls for one. */
const LOG_EVERY_MS = 5000;

/** Tenths of the phase done: a log gets a line each tenth, whatever the run's size. */
function tenths(p: Progress): number {
  if (p.phase === 'provisioning' && p.users > 0) return Math.floor((10 * p.usersProvisioned) / p.users);
  if (p.phase === 'load' && p.workers > 0) return Math.floor((10 * p.workersFinished) / p.workers);
  return 0;
}

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * A live line on a TTY. In a log, a line on each phase change, on each tenth of the users provisioned
 * or the workers finished, and every few seconds otherwise: a 10,000-user run's log stays short, and a
 * 10-user one still shows provisioning advance.
 */
export function progressPrinter(
  stream: ProgressStream,
  now: () => number = Date.now,
): { update: (p: Progress) => void; end: () => void } {
  let shown = '';
  let shownAt = 0;
  let lastPhase = '';
  let lastTenths = -1;
  return {
    update: (p) => {
      const line = progressLine(p);
      const changed = p.phase !== lastPhase || tenths(p) !== lastTenths;
      lastPhase = p.phase;
      lastTenths = tenths(p);
      if (line === shown) return;
      if (stream.isTTY) {
        if (!changed && now() - shownAt < REDRAW_MS) return;
        stream.write(`\r\x1b[2K${line}`);
      } else {
        if (!changed && now() - shownAt < LOG_EVERY_MS) return;
        stream.write(`${line}\n`);
      }
      shown = line;
      shownAt = now();
    },
    end: () => {
      if (stream.isTTY && shown) stream.write('\r\x1b[2K');
      if (stream.isTTY) shown = '';
    },
  };
}

const pad = (text: string, width: number) => text.padEnd(width);

/** Wide enough for 99,999.99 ms: a 60 s timeout's latencies stay in their columns. */
const FIGURE_WIDTH = 9;
const FIGURE_COLUMNS = ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max']
  .map((c) => c.padStart(FIGURE_WIDTH))
  .join(' ');
type Figures = NonNullable<Report['latencyMs']>;
const figures = (x: Figures) =>
  [x.min, x.mean, x.p50, x.p90, x.p95, x.p99, x.max].map((v) => ms(v).padStart(FIGURE_WIDTH)).join(' ');

/** The report as a readable table for the terminal. */
export function formatReport(report: Report): string {
  const { requests: r, latencyMs: l, workers: w } = report;
  const latency = l ? `${pad('', 10)} ${figures(l)}` : '                n/a: no request got a response';
  const s = report.serviceTimeMs;
  const lines = [
    `run        ${report.runId}`,
    `target     ${report.target}`,
    `users      ${n(report.users)}: ${describeLoad(report.load)}`,
    ...(report.stopped ? [`STOPPED    ${report.stopped.stoppedAt}: ${report.stopped.reason}`] : []),
    `duration   ${seconds(report.durationSeconds)} s    throughput ${rate(report.throughputRps)} responses/s (${rate(report.attemptedRps)} attempted/s)`,
    '',
    `requests   ${pad(n(r.total), 10)} ok ${pad(n(r.ok), 10)} failed ${n(r.failed)}${r.notSent > 0 ? `   NOT SENT ${n(r.notSent)}` : ''}${r.dropped > 0 ? `   DROPPED ${n(r.dropped)}` : ''}`,
    `responses  ${pad(n(r.responses), 10)} no response ${n(r.transportFailed)}`,
    `status     ${
      Object.entries(report.statusCodes)
        .map(([code, count]) => `${code}: ${n(count)}`)
        .join('   ') || '-'
    }`,
    `errors     ${
      Object.entries(report.errors)
        .map(([name, count]) => `${name}: ${n(count)}`)
        .join('   ') || '-'
    }`,
    ...(w.failed > 0
      ? [
          `workers    ${n(w.failed)} of ${n(w.expected)} FAILED; requests of ${n(w.usersUnknown)} users unknown`,
          ...w.failures.slice(0, 5).map((f) => `  - users ${f.firstUser}..${f.lastUser}: ${f.error}: ${f.message}`),
        ]
      : []),
    '',
    `latency ms ${FIGURE_COLUMNS}${s ? '   (from each intended start)' : ''}`,
    latency,
    ...(s ? [`service    ${figures(s)}   (from the actual send)`] : []),
    ...(report.loginLatencyMs
      ? [`login      ${figures(report.loginLatencyMs)}   (Cognito, per user, before the start)`]
      : []),
    ...byNameLines(report),
    '',
    report.thresholds.passed
      ? 'thresholds passed'
      : `thresholds FAILED:\n${report.thresholds.failures.map((f) => `  - ${f.message}`).join('\n')}`,
    report.verdict.passed
      ? 'verdict    PASSED'
      : `verdict    FAILED (${report.verdict.error}): ${report.verdict.cause}`,
  ];
  return lines.join('\n');
}

/** One line per named request, when there is more than one: its counts and latency figures. */
function byNameLines(report: Report): string[] {
  const entries = Object.entries(report.byName);
  if (entries.length < 2) return [];
  const width = Math.max('by name'.length, ...entries.map(([name]) => name.length));
  const counts = ['requests', 'ok', 'failed'].map((c) => c.padStart(10)).join(' ');
  return [
    '',
    `${pad('by name', width)} ${counts} ${FIGURE_COLUMNS}`,
    ...entries.map(
      ([name, r]) =>
        `${pad(name, width)} ${n(r.requests.total).padStart(10)} ${n(r.requests.ok).padStart(10)} ${n(r.requests.failed).padStart(10)} ${r.latencyMs ? figures(r.latencyMs) : '    n/a: no response'}`,
    ),
  ];
}

export function formatCleanup(cleanup: CleanupResult): string {
  const key = cleanup.key.keyId
    ? `key ${cleanup.key.scheduled ? 'scheduled for deletion on' : 'already pending deletion until'} ${cleanup.key.deletionDate?.slice(0, 10) ?? '?'}`
    : 'no key';
  const remaining =
    cleanup.usersRemaining > 0 ? `, ${n(cleanup.usersRemaining)} test users remain (secrets and key kept)` : '';
  const orphans =
    cleanup.orphanKeysScheduled > 0
      ? `, ${n(cleanup.orphanKeysScheduled)} leftover stack keys scheduled for deletion`
      : '';
  const scan = cleanup.keyScanComplete ? '' : ' (key scan stopped early: run it again)';
  const others =
    cleanup.usersSkippedNotOurs > 0
      ? `, ${n(cleanup.usersSkippedNotOurs)} users without this stack's mark left alone`
      : '';
  return `cleanup    ${n(cleanup.usersDeleted)} users and ${n(cleanup.secretsDeleted)} secrets deleted, ${key}${orphans}${remaining}${others}${scan}`;
}

/** A Lambda error's Cause is the JSON Lambda returns; show its message, not the JSON. */
export function readableCause(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: already readable
  }
  return cause;
}
