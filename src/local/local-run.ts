import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { getJson, putObject, reportKeys } from '../lib/aws/results';
import type { CleanupResult } from '../lib/cleanup';
import { createRuntime, type Runtime } from '../lib/deps';
import { OUTCOMES_CHANNEL, type OutcomeMessage } from '../lib/load/engine';
import type { Report } from '../lib/report/report';
import { raiseStop } from '../lib/stop';
import { type LocalEnvironment, startLocalEnvironment, stopLocalEnvironments } from './environment';
import { JwtVerifier } from './jwt-verifier';
import { type SampleApi, startSampleApi } from './sample-api';
import { type ExecutionFailure, type InvocationEvent, runStateMachine } from './workflow-runner';

export interface LocalRunOptions {
  /**
   * The execution input, exactly what `sls invoke stepf --data` takes. When absent, the shorthand below
   * builds the seed's form. users.StartDelaySeconds defaults to the local one (see localStartDelay).
   */
  readonly input?: Readonly<Record<string, unknown>>;
  /**
   * A per-user data file to upload to the local results bucket before the run, as a user would with
   * `aws s3 cp` in AWS: `key` is the input's `data.key`, `body` the file's text.
   */
  readonly dataFile?: { readonly key: string; readonly body: string };
  readonly users?: number;
  readonly calls?: number;
  readonly concurrency?: number;
  readonly usersPerWorker?: number;
  readonly startDelaySeconds?: number;
  /** Any loopback URL; the sample protected API when absent. */
  readonly target?: string;
  readonly thresholds?: Record<string, number>;
  readonly request?: Record<string, unknown>;
  /** Skip deleteTestUsers. */
  readonly keep?: boolean;
  readonly onProgress?: (progress: Progress) => void;
  /** Called with report.json as soon as Aggregate wrote it, before cleanup (the CLI prints it then). */
  readonly onReport?: (report: Report) => void;
  /** Called once the environment is up, before the workflows run (tests inject faults here). */
  readonly onReady?: (environment: LocalEnvironment) => void | Promise<void>;
  /** Called after the workflows, before everything stops (tests inspect the emulators here). */
  readonly onFinished?: (environment: LocalEnvironment) => void | Promise<void>;
}

export interface Progress {
  phase: 'starting' | 'planning' | 'provisioning' | 'load' | 'aggregating' | 'cleanup' | 'done';
  users: number;
  usersProvisioned: number;
  /** Of those: created by this run, and already there from an earlier run. */
  usersCreated: number;
  usersReused: number;
  /** Epoch ms of the start barrier: workers log in before it, and the load starts at it. */
  barrierAt?: number;
  /** Worker Lambdas: settings.usersPerWorker users each. */
  workers: number;
  workersStarted: number;
  workersFinished: number;
  requestsDone: number;
  /** Responses in the last second (the report's throughput counts responses too). */
  currentRps: number;
}

export interface LocalRunResult {
  readonly runId: string;
  readonly target: string;
  /** The full report.json, when the run got as far as Aggregate. */
  readonly report: Report | undefined;
  readonly failure: ExecutionFailure | undefined;
  readonly cleanup: CleanupResult | undefined;
  readonly cleanupFailure: ExecutionFailure | undefined;
  /** What the sample API saw (absent with --target). */
  readonly api: SampleApi['stats'] | undefined;
}

/** Counts load outcomes as they happen, through the engine's diagnostics channel (nothing is built unless watched). */
function watchRequests(origin: string, onDone: (response: boolean) => void): () => void {
  const watch = (message: unknown) => {
    const outcome = message as OutcomeMessage;
    if (outcome.origin === origin) onDone(outcome.response);
  };
  subscribe(OUTCOMES_CHANNEL, watch);
  return () => unsubscribe(OUTCOMES_CHANNEL, watch);
}

const PROVISION_WATCH = 'apiloadtestProvisionProgress';

/**
 * Reports each user Provision completes, by watching the local Cognito client: the provisioning code
 * runs exactly as in AWS, with no hook of its own. A user is complete once its permanent password is
 * set (Provision's last Cognito call for it), and was created by this run when AdminCreateUser
 * succeeded for it. Users an earlier run left ready get no Cognito call: the shard's result counts them.
 */
function watchProvisioning(
  client: CognitoIdentityProviderClient,
  onUser: (username: string, created: boolean) => void,
): () => void {
  const created = new Set<string>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const username = String((args.input as { Username?: unknown }).Username);
      if (context.commandName === 'AdminCreateUserCommand') created.add(username);
      if (context.commandName === 'AdminSetUserPasswordCommand') onUser(username, created.has(username));
      return result;
    },
    { step: 'initialize', name: PROVISION_WATCH },
  );
  return () => client.middlewareStack.remove(PROVISION_WATCH);
}

/**
 * Locally every login goes to one cognito-local process (~50 a second on a small machine), not to a
 * service with a 120 RPS quota, so the barrier leaves 1 s plus 1 s per 50 users.
 */
export const localStartDelay = (users: number): number => 1 + Math.ceil(users / 50);

/** Runs in their load phase, for a graceful Ctrl-C: see requestStop(). */
const loading = new Set<() => Promise<void>>();

/**
 * The stop switch, locally: raises the stop marker of every run in its load phase, as stopRun does in
 * AWS. The workers stop starting requests within a poll, and the run goes on to its report and
 * cleanup. Returns false when no run was loading (nothing to stop gracefully).
 */
export async function requestStop(): Promise<boolean> {
  if (loading.size === 0) return false;
  await Promise.all([...loading].map((raise) => raise().catch(() => undefined)));
  return true;
}

/** The execution input a shorthand describes: the seed's form, plus what else was given. */
function inputFromShorthand(options: LocalRunOptions): Record<string, unknown> {
  return {
    users: {
      NumberOfUsers: options.users ?? 10,
      NumberOfCallsPerUser: options.calls ?? 20,
      ConcurrencyPerUser: options.concurrency,
      UsersPerWorker: options.usersPerWorker,
      StartDelaySeconds: options.startDelaySeconds,
    },
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
    ...(options.request ? { request: options.request } : {}),
  };
}

/** Stops of runs in progress, for Ctrl-C: see stopActiveRuns(). */
const active = new Set<() => Promise<void>>();

/** Stops every emulator and server of runs still in progress or starting (the CLI calls it on SIGINT/SIGTERM). */
export async function stopActiveRuns(): Promise<void> {
  await Promise.all([...active, stopLocalEnvironments].map((stop) => stop().catch(() => undefined)));
}

/** report.json of a run, or undefined when the run stopped before Aggregate wrote one. */
async function readReport(runtime: Runtime, runId: string): Promise<Report | undefined> {
  try {
    return await getJson<Report>(runtime.results, reportKeys(runId).json);
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/**
 * The embedded default: emulators, local stack, sample API, then `createUsersAndFanOut` and
 * `deleteTestUsers` from their ASL with the real handlers. Everything started here is stopped here.
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunResult> {
  const given = options.input ?? inputFromShorthand(options);
  const givenUsers = (given.users ?? {}) as Record<string, unknown>;
  const users = Number(givenUsers.NumberOfUsers) || 0;
  const progress: Progress = {
    phase: 'starting',
    users,
    usersProvisioned: 0,
    usersCreated: 0,
    usersReused: 0,
    workers: users,
    workersStarted: 0,
    workersFinished: 0,
    requestsDone: 0,
    currentRps: 0,
  };
  const emit = () => options.onProgress?.({ ...progress });
  emit();
  const environment = await startLocalEnvironment();
  let api: SampleApi | undefined;
  const stopAll = async () => {
    await api?.stop();
    await environment.stop();
  };
  active.add(stopAll);
  let stopWatching = () => {};
  let stopWatchingUsers = () => {};
  const recent: number[] = [];
  const ticker = setInterval(() => {
    const cutoff = Date.now() - 1000;
    while (recent.length > 0 && (recent[0] ?? 0) < cutoff) recent.shift();
    progress.currentRps = recent.length;
    emit();
  }, 250);
  try {
    const { stack } = environment;
    if (!options.target) {
      api = await startSampleApi(
        new JwtVerifier({ issuer: stack.issuer, audience: stack.clientId, jwksUrl: stack.jwksUrl }),
      );
    }
    const target = options.target ?? api?.url ?? '';
    // The live rate counts responses, as the report's throughput does; requests counts every outcome.
    stopWatching = watchRequests(new URL(target).origin, (response) => {
      progress.requestsDone++;
      if (response) recent.push(Date.now());
    });
    // A set, not a count: a shard Step Functions retries sets some passwords again.
    const provisioned = new Set<string>();
    let skipped = 0;
    const countUsers = () => {
      progress.usersProvisioned = Math.min(provisioned.size + skipped, progress.users);
    };
    stopWatchingUsers = watchProvisioning(environment.clients.cognito, (username, created) => {
      if (provisioned.has(username)) return;
      provisioned.add(username);
      if (created) progress.usersCreated++;
      else progress.usersReused++;
      countUsers();
      emit();
    });
    await options.onReady?.(environment);
    const runtime = createRuntime(environment.handlerEnv(target), environment.clients);
    const onInvoke = (event: InvocationEvent) => {
      if (event.functionKey === 'planRun') {
        progress.phase = 'planning';
        if (event.phase === 'end') progress.workers = (event.output as { workers: number }).workers;
      }
      if (event.functionKey === 'provisionUsers') {
        progress.phase = 'provisioning';
        // The others were counted one by one as their passwords were set (watchProvisioning).
        if (event.phase === 'end') {
          const out = event.output as { skipped: number };
          skipped += out.skipped;
          progress.usersReused += out.skipped;
          countUsers();
        }
      }
      // RecordWorkerFailure invokes the same function to note a failed worker: not a worker of its own.
      if (event.functionKey === 'runWorker' && event.state === 'RunWorker') {
        progress.phase = 'load';
        if (event.phase === 'start' && progress.barrierAt === undefined) {
          const task = event.input as { armedAt?: string; settings?: { startDelaySeconds?: number } };
          progress.barrierAt = Date.parse(task.armedAt ?? '') + (task.settings?.startDelaySeconds ?? 0) * 1000;
        }
        if (event.phase === 'start') progress.workersStarted++;
        else progress.workersFinished++;
      }
      if (event.functionKey === 'aggregateResults') progress.phase = 'aggregating';
      if (event.functionKey === 'deleteTestUsers') progress.phase = 'cleanup';
      emit();
    };
    const runId = `local-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const input = {
      ...given,
      users: {
        ...givenUsers,
        StartDelaySeconds: givenUsers.StartDelaySeconds ?? localStartDelay(progress.users),
      },
    };
    if (options.dataFile) await putObject(runtime.results, options.dataFile.key, options.dataFile.body, 'text/plain');
    const raiseStopSwitch = () => raiseStop(runtime.results, runId, 'stopped by Ctrl-C');
    loading.add(raiseStopSwitch);
    const outcome = await runStateMachine('createUsersAndFanOut', input, {
      runtime: () => runtime,
      executionName: runId,
      onInvoke,
    }).finally(() => loading.delete(raiseStopSwitch));
    const failure = outcome.status === 'FAILED' ? { error: outcome.error, cause: outcome.cause } : undefined;
    // Aggregate writes report.json before any verdict, failed thresholds or failed workers included.
    const report = await readReport(runtime, runId);
    if (report) options.onReport?.(report);
    let cleanup: CleanupResult | undefined;
    let cleanupFailure: ExecutionFailure | undefined;
    if (!options.keep) {
      const removed = await runStateMachine(
        'deleteTestUsers',
        {},
        { runtime: () => runtime, executionName: `${runId}-cleanup`, onInvoke },
      );
      if (removed.status === 'SUCCEEDED') cleanup = removed.output as CleanupResult;
      else cleanupFailure = { error: removed.error, cause: removed.cause };
    }
    await options.onFinished?.(environment);
    progress.phase = 'done';
    emit();
    return { runId, target, report, failure, cleanup, cleanupFailure, api: api?.stats };
  } finally {
    clearInterval(ticker);
    stopWatching();
    stopWatchingUsers();
    active.delete(stopAll);
    await stopAll();
  }
}
