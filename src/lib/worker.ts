import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { login, refresh, type Tokens, type UserPool } from './aws/cognito';
import { putJson, type ResultsStore, workerSummaryKey } from './aws/results';
import { readCredentials, shardSecretName } from './aws/secrets';
import { AppError } from './errors';
import { runLoad } from './load/engine';
import { encodeHistogram } from './load/histogram';
import type { WorkerSummary } from './load/summary';
import { shardOf, usernameOf, type WorkerSettings } from './plan';
import { type RetryOptions, sleep, withRetry } from './retry';

export interface WorkerTask {
  readonly userIndex: number;
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
  readonly retry?: RetryOptions;
  readonly now?: () => number;
  readonly wait?: (ms: number) => Promise<void>;
}

/** What goes back into the state machine: a few numbers, never the summary itself. */
export interface WorkerResult {
  readonly userIndex: number;
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
}

/** Refresh this long before expiry, so no request leaves with a token that expires in flight. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const REFRESH_RETRY_MS = 30_000;

export async function runWorker(task: WorkerTask, deps: WorkerDeps): Promise<WorkerResult> {
  const now = deps.now ?? Date.now;
  const username = usernameOf(task.userIndex);
  const secretName = shardSecretName(deps.secretPrefix, shardOf(task.userIndex));
  const retry = <T>(operation: () => Promise<T>) => withRetry(operation, deps.retry);

  const credentials = await retry(() => readCredentials(deps.secrets, secretName));
  const password = credentials?.[username];
  if (!password) throw new AppError('CredentialsNotFound', `no credentials for ${username} in ${secretName}`);

  // Log in before the barrier, so that login latency (and Cognito's auth quota) stays out of the load.
  let tokens: Tokens = await retry(() => login(deps.pool, username, password, now));
  let refreshes = 0;
  let refreshing: Promise<Tokens> | undefined;
  let refreshFailures = 0;
  let nextRefreshAt = 0;
  // A failed refresh never stops the load: requests go on with the current token (the API answers 401
  // once it has expired, and the report counts that), and the refresh is tried again later.
  const token = async (): Promise<string> => {
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
    await refreshing;
    return tokens.accessToken;
  };

  const barrier = Date.parse(task.armedAt) + task.settings.startDelaySeconds * 1000;
  const delay = barrier - now();
  if (delay > 0) await (deps.wait ?? sleep)(delay);

  const result = await runLoad({
    target: deps.target,
    request: task.settings.request,
    calls: task.settings.callsPerUser,
    concurrency: task.settings.concurrencyPerUser,
    token,
    now,
  });
  const summary: WorkerSummary = {
    version: 1,
    runId: task.settings.runId,
    userIndex: task.userIndex,
    username,
    counters: result.counters,
    histogram: encodeHistogram(result.histogram),
    minLatencyUs: result.minLatencyUs,
    maxLatencyUs: result.maxLatencyUs,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    lateStartMs: Math.max(0, -delay),
    tokenRefreshes: refreshes,
    tokenRefreshFailures: refreshFailures,
  };
  await retry(() => putJson(deps.results, workerSummaryKey(task.settings.runId, task.userIndex), summary));
  const { total, ok, failed } = result.counters;
  return { userIndex: task.userIndex, total, ok, failed };
}
