import type { KMSClient } from '@aws-sdk/client-kms';
import { ensureUserSetKey } from './aws/kms';
import { parseRunInput } from './input';
import { buildPlan, checkFitsLambda, type RunPlan, runIdFrom, startDelayFor, usersPerWorkerFor } from './plan';
import { type RetryOptions, withRetry } from './retry';

export interface PrepareEvent {
  readonly input: unknown;
  readonly executionName: string;
}

export interface PrepareDeps {
  readonly kms: KMSClient;
  readonly keyAlias: string;
  readonly stackName: string;
  readonly maxConcurrentWorkers: number;
  readonly retry?: RetryOptions;
}

/**
 * Validates the input first (bad input creates nothing), then finds or creates the user set's key
 * once, here, so that parallel provisioning tasks never race to create it.
 */
export async function prepareRun(event: PrepareEvent, deps: PrepareDeps): Promise<RunPlan> {
  const input = parseRunInput(event.input);
  // Checked before the key exists: an impossible plan creates nothing.
  usersPerWorkerFor(input, deps.maxConcurrentWorkers);
  checkFitsLambda(input, startDelayFor(input));
  const keyId = await withRetry(() => ensureUserSetKey(deps.kms, deps.keyAlias, deps.stackName), deps.retry);
  return buildPlan(input, runIdFrom(event.executionName), keyId, deps.maxConcurrentWorkers);
}
