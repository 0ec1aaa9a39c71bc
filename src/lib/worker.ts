import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { login, refresh, type Tokens, type UserPool } from './aws/cognito';
import { dataShardKey, getJson, putJson, type ResultsStore, userSummaryKey } from './aws/results';
import { type Credentials, readCredentials, shardSecretName } from './aws/secrets';
import type { DataShard } from './data';
import { AppError, errorName } from './errors';
import { type Latencies, runLoad } from './load/engine';
import { encodeHistogram } from './load/histogram';
import { compileScenario } from './load/scenario';
import {
  type Counters,
  type CountsOnly,
  countsOnly,
  type EncodedLatencies,
  type NamedSummary,
  type WorkerSummary,
} from './load/summary';
import { logRaw } from './log';
import { liveMetrics } from './metrics/live';
import { shardOf, usernameOf, type WorkerSettings } from './plan';
import { count, givenPercent, percent } from './report/numbers';
import { type RetryOptions, sleep, withRetry } from './retry';
import { raiseStop, watchStop } from './stop';
import { type UserFailure, workerFailedError } from './worker-failure';

/** One worker Lambda: users firstUser.. up to settings.usersPerWorker of them, never past lastUser. */
export interface WorkerTask {
  readonly firstUser: number;
  /** The last user of the worker's fan-out group: the worker's range stops there. */
  readonly lastUser: number;
  readonly settings: WorkerSettings;
  /** When the fan-out began (ISO-8601); the start barrier is this plus settings.startDelaySeconds. */
  readonly armedAt: string;
}

export interface WorkerDeps {
  readonly pool: UserPool;
  readonly secrets: SecretsManagerClient;
  readonly results: ResultsStore;
  readonly secretPrefix: string;
  readonly target: URL;
  /** Epoch ms at which Lambda stops this invocation (undefined: no limit). */
  readonly endsAt?: number;
  readonly retry?: RetryOptions;
  readonly now?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
  /** How often the worker looks for the stop marker (1 s by default). */
  readonly stopPollMs?: number;
  /** Dimension of the live metrics (the stack's name). */
  readonly stackName?: string;
  /** Test users' name prefix (config.ts); default `loadtestuser`. */
  readonly usernamePrefix?: string;
  /** Where EMF lines go: the log (CloudWatch Logs turns them into metrics). */
  readonly emitMetrics?: (line: string) => void;
  readonly metricsIntervalMs?: number;
}

const encoded = (latencies: Latencies): EncodedLatencies => ({
  histogram: encodeHistogram(latencies.histogram),
  minUs: latencies.minUs,
  maxUs: latencies.maxUs,
});

/** Time kept after the last request starts: it may take request.timeoutMs, then the summary is written. */
const SUMMARY_MARGIN_MS = 15_000;

/** What goes back into the state machine: a few numbers, never the summaries themselves. */
export interface WorkerResult {
  readonly firstUser: number;
  readonly users: number;
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
}

/** Refresh this long before expiry, so no request leaves with a token that expires in flight. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const REFRESH_RETRY_MS = 30_000;

/**
 * Runs the worker's users side by side, each with its own login, connections and summary, all from the
 * same start barrier. Credentials are read once per shard secret.
 */
export async function runWorker(task: WorkerTask, deps: WorkerDeps): Promise<WorkerResult> {
  const last = Math.min(task.lastUser, task.firstUser + task.settings.usersPerWorker - 1);
  if (!Number.isInteger(task.firstUser) || last < task.firstUser) {
    throw new AppError('InvalidInput', `worker range ${task.firstUser}..${task.lastUser} holds no user`);
  }
  const shards = new Map<number, Promise<Credentials | undefined>>();
  const credentialsOf = (userIndex: number) => {
    const shard = shardOf(userIndex);
    let pending = shards.get(shard);
    if (!pending) {
      const name = shardSecretName(deps.secretPrefix, shard);
      pending = withRetry(() => readCredentials(deps.secrets, name), deps.retry);
      shards.set(shard, pending);
    }
    return pending;
  };
  // Each worker reads only the data rows of its own users' shards, once per shard.
  const dataShards = new Map<number, Promise<DataShard>>();
  const dataRowOf = async (userIndex: number): Promise<Readonly<Record<string, string>> | undefined> => {
    if (task.settings.dataRows === null) return undefined;
    const shard = shardOf(userIndex);
    let pending = dataShards.get(shard);
    if (!pending) {
      const key = dataShardKey(task.settings.runId, shard);
      pending = withRetry(() => getJson<DataShard>(deps.results, key), deps.retry);
      dataShards.set(shard, pending);
    }
    const { firstUser, rows } = await pending;
    const row = rows[userIndex - firstUser];
    if (!row) throw new AppError('InvalidInput', `the data shard ${shard} holds no row for user ${userIndex}`);
    return row;
  };
  const indices = Array.from({ length: last - task.firstUser + 1 }, (_, i) => task.firstUser + i);
  const stop = watchStop(deps.results, task.settings.runId, deps.stopPollMs);
  const metrics = liveMetrics({
    stack: deps.stackName ?? 'unknown',
    runId: task.settings.runId,
    emit: deps.emitMetrics ?? logRaw,
    intervalMs: deps.metricsIntervalMs,
  });
  const shared = { stopped: stop.stopped, watch: metrics.watch };
  // Users run side by side and fail alone: one user's failed login does not lose the others' summaries.
  const settled = await Promise.allSettled(
    indices.map((userIndex) => runUser(userIndex, task, deps, credentialsOf, dataRowOf, shared)),
  ).finally(() => {
    stop.close();
    metrics.stop();
  });
  const failures: UserFailure[] = [];
  const done: UserResult[] = [];
  settled.forEach((outcome, i) => {
    const userIndex = indices[i] ?? task.firstUser + i;
    if (outcome.status === 'fulfilled') done.push(outcome.value);
    else if (outcome.reason instanceof SummaryNotSavedError) {
      failures.push({
        userIndex,
        error: 'SummaryNotSaved',
        message: outcome.reason.message,
        counts: outcome.reason.counts,
      });
    } else {
      const error = outcome.reason as Error;
      failures.push({ userIndex, error: error?.name ?? 'Error', message: error?.message ?? String(outcome.reason) });
    }
  });
  // The state machine's Catch hands this to the failure recorder, so Aggregate reports the worker as failed.
  if (failures.length > 0) throw workerFailedError(failures);
  return {
    firstUser: task.firstUser,
    users: done.length,
    total: done.reduce((n, r) => n + r.total, 0),
    ok: done.reduce((n, r) => n + r.ok, 0),
    failed: done.reduce((n, r) => n + r.failed, 0),
  };
}

interface UserResult {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
}

/** The user's summary could not be written: its counts go back through the worker's error instead. */
class SummaryNotSavedError extends AppError {
  constructor(
    readonly counts: CountsOnly,
    cause: unknown,
  ) {
    super('SummaryNotSaved', `summary not written to the results bucket: ${errorName(cause)}`, { cause });
  }
}

async function runUser(
  userIndex: number,
  task: WorkerTask,
  deps: WorkerDeps,
  credentialsOf: (userIndex: number) => Promise<Credentials | undefined>,
  dataRowOf: (userIndex: number) => Promise<Readonly<Record<string, string>> | undefined>,
  { stopped, watch }: { stopped: () => boolean; watch: (live: { counters: Counters; latency: Latencies }) => void },
): Promise<UserResult> {
  const now = deps.now ?? Date.now;
  const username = usernameOf(userIndex, deps.usernamePrefix);
  const secretName = shardSecretName(deps.secretPrefix, shardOf(userIndex));
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);

  const credentials = await credentialsOf(userIndex);
  const password = credentials?.[username];
  if (!password) throw new AppError('CredentialsNotFound', `no credentials for ${username} in ${secretName}`);

  const { settings } = task;
  // Compiled once for this user: per request, only iteration, uuid and randomInt are filled in.
  const scenario = compileScenario(settings.scenario, { username, userIndex, data: await dataRowOf(userIndex) });

  // Log in before the barrier, so that login latency (and Cognito's auth quota) stays out of the load.
  const loginStarted = performance.now();
  let tokens: Tokens = await retry(() => login(deps.pool, username, password, now));
  // Retries included: what the user waited for a token. Kept apart from the API's latency.
  const loginUs = Math.max(1, Math.round((performance.now() - loginStarted) * 1000));
  let refreshes = 0;
  let refreshing: Promise<Tokens> | undefined;
  let refreshFailures = 0;
  let nextRefreshAt = 0;
  // A failed refresh never stops the load: requests go on with the current token (the API answers 401
  // once it has expired, and the report counts that), and the refresh is tried again later.
  // A string while the token is fresh (nearly every request): a promise only when a refresh is due.
  const token = (): string | Promise<string> => {
    const current = now();
    if (tokens.expiresAt - REFRESH_MARGIN_MS > current || current < nextRefreshAt || !tokens.refreshToken) {
      return tokens.accessToken;
    }
    const refreshToken = tokens.refreshToken;
    refreshing ??= retry(() => refresh(deps.pool, username, refreshToken, now))
      .then(
        (fresh) => {
          tokens = fresh;
          refreshes++;
        },
        () => {
          refreshFailures++;
          nextRefreshAt = now() + REFRESH_RETRY_MS;
        },
      )
      .then(() => {
        refreshing = undefined;
        return tokens;
      });
    return refreshing.then((current) => current.accessToken);
  };

  // Ramp-up: user i starts rampUpSeconds × i / users after the barrier.
  const rampOffsetMs =
    settings.users > 0 ? Math.floor((settings.rampUpSeconds * 1000 * userIndex) / settings.users) : 0;
  const barrierAt = Date.parse(task.armedAt) + settings.startDelaySeconds * 1000;
  const startAt = barrierAt + rampOffsetMs;
  const delay = startAt - now();
  if (delay > 0) await (deps.wait ?? sleep)(delay);

  const abort = settings.abortOnFail;
  let aborting = false;
  const shouldStop = (counters: Counters): boolean => {
    if (stopped() || aborting) return true;
    if (abort && counters.total >= abort.minRequests && counters.failed / counters.total > abort.maxErrorRate) {
      aborting = true;
      const rate = percent(counters.failed / counters.total);
      // Everyone stops at their next poll; a failed write leaves the others running, never this user.
      void raiseStop(
        deps.results,
        settings.runId,
        `abortOnFail: ${username} error rate ${rate} > ${givenPercent(abort.maxErrorRate)} after ${count(counters.total)} requests`,
      ).catch(() => undefined);
      return true;
    }
    return false;
  };

  const result = await runLoad({
    target: deps.target,
    scenario,
    load: settings.load,
    // A run longer than Lambda allows still ends with an honest summary: what was sent, and what was not.
    deadline: deps.endsAt === undefined ? undefined : deps.endsAt - scenario.maxTimeoutMs - SUMMARY_MARGIN_MS,
    shouldStop,
    token,
    now,
    timelineOrigin: barrierAt,
    onStart: watch,
  });
  const summary: WorkerSummary = {
    version: 1,
    runId: task.settings.runId,
    userIndex,
    username,
    counters: result.counters,
    histogram: encodeHistogram(result.latency.histogram),
    minLatencyUs: result.latency.minUs,
    maxLatencyUs: result.latency.maxUs,
    ...(result.serviceTime ? { serviceTime: encoded(result.serviceTime) } : {}),
    byName: Object.fromEntries(
      Object.entries(result.byName).map(([name, named]): [string, NamedSummary] => [
        name,
        { counters: countsOnly({ timeline: {}, ...named.counters }), ...encoded(named.latency) },
      ]),
    ),
    timeline: result.timeline,
    barrierAt,
    loginUs,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    lateStartMs: Math.max(0, -delay),
    tokenRefreshes: refreshes,
    tokenRefreshFailures: refreshFailures,
  };
  try {
    await retry(() => putJson(deps.results, userSummaryKey(task.settings.runId, userIndex), summary));
  } catch (error) {
    throw new SummaryNotSavedError(countsOnly(result.counters), error);
  }
  const { total, ok, failed } = result.counters;
  return { total, ok, failed };
}
