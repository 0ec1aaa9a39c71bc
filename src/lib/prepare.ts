import type { KMSClient } from '@aws-sdk/client-kms';
import { ensureUserSetKey } from './aws/kms';
import { parseRunInput } from './input';
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
  // Retried step by step inside: retrying it whole would make a second key when only the alias failed.
  const keyId = await ensureUserSetKey(deps.kms, deps.keyAlias, deps.stackName, {
    accountRootArn: deps.accountRootArn,
    keyRetirerRoleArns: deps.keyRetirerRoleArns,
    retry: deps.retry,
  });
  return buildPlan(input, runIdFrom(event.executionName), keyId, deps.maxConcurrentWorkers);
}
