import type { KMSClient } from '@aws-sdk/client-kms';
import { ensureUserSetKey } from './aws/kms';
import type { ResultsStore } from './aws/results';
import { parseDataFile, readDataFile, writeDataShards } from './data';
import { ConfigError } from './errors';
import { estimateRun, summarizeEstimate } from './estimate/estimate';
import { dataColumnsUsed, parseRunInput } from './input';
import { buildPlan, checkFitsLambda, type RunPlan, runIdFrom, startDelayFor, usersPerWorkerFor } from './plan';
import type { RetryOptions } from './retry';

export interface PrepareEvent {
  readonly input: unknown;
  readonly executionName: string;
}

export interface PrepareDeps {
  readonly kms: KMSClient;
  readonly keyAlias: string;
  readonly stackName: string;
  /** Principal of the key policy: the account's root, so that IAM keeps control of the key. */
  readonly accountRootArn: string;
  /** The stack's roles the key policy lets retire the key: the only proof that the stack made a key. */
  readonly keyRetirerRoleArns: readonly string[];
  readonly maxConcurrentWorkers: number;
  /** The results bucket: where the input's data file is read and its per-shard rows written. */
  readonly results?: ResultsStore;
  readonly retry?: RetryOptions;
  /** When given, the plan carries the run's cost and quota estimate (what `npm run plan` prints). */
  readonly estimate?: { readonly region: string; readonly cognitoWriteRps: number };
}

/**
 * Validates the input first (bad input creates nothing), then finds or creates the user set's key
 * once, here, so that parallel provisioning tasks never race to create it. A data file is read and
 * checked here, once, and split into one file per shard of users, so that each worker reads only its own.
 */
export async function prepareRun(event: PrepareEvent, deps: PrepareDeps): Promise<RunPlan> {
  const input = parseRunInput(event.input);
  // Checked before the key exists: an impossible plan creates nothing.
  usersPerWorkerFor(input, deps.maxConcurrentWorkers);
  checkFitsLambda(input, startDelayFor(input));
  let rows: ReturnType<typeof parseDataFile> | undefined;
  if (input.data) {
    if (!deps.results) throw new ConfigError('the plan step needs the results bucket to read a data file');
    const text = await readDataFile(deps.results, input.data, deps.retry);
    rows = parseDataFile(input.data.key, text, dataColumnsUsed(input.scenario));
  }
  // Retried step by step inside: retrying it whole would make a second key when only the alias failed.
  const keyId = await ensureUserSetKey(deps.kms, deps.keyAlias, deps.stackName, {
    accountRootArn: deps.accountRootArn,
    keyRetirerRoleArns: deps.keyRetirerRoleArns,
    retry: deps.retry,
  });
  const plan = buildPlan(input, runIdFrom(event.executionName), keyId, deps.maxConcurrentWorkers, rows?.length ?? null);
  if (rows && deps.results) await writeDataShards(deps.results, plan.runId, rows, plan.shards, deps.retry);
  if (!deps.estimate) return plan;
  const estimate = estimateRun(input, { ...deps.estimate, maxConcurrentWorkers: deps.maxConcurrentWorkers });
  return { ...plan, estimate: summarizeEstimate(estimate) };
}
