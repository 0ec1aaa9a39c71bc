import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import pLimit from 'p-limit';
import { makeHandler as planHandler } from '../src/handlers/plan-run';
import { makeHandler as provisionHandler } from '../src/handlers/provision-users';
import { createClients } from '../src/lib/aws/clients';
import { ENV } from '../src/lib/config';
import { createRuntime } from '../src/lib/deps';
import { setLogSink } from '../src/lib/log';
import { PROVISION_PARALLEL_SHARDS, usernameOf } from '../src/lib/plan';
import type { ProvisionResult } from '../src/lib/provision';
import { startLocalEnvironment } from '../src/local/environment';
import { startThrottlingProxy } from '../src/local/throttling-proxy';

export interface ThrottledProvisioning {
  readonly users: number;
  readonly configuredRps: number;
  readonly throttleShare: number;
  readonly results: readonly ProvisionResult[];
  /** Shards whose task failed, with the error's name (the Map would retry or fail them). */
  readonly failures: readonly string[];
  /** Users found CONFIRMED in the pool afterwards (asked of cognito-local directly, not through the proxy). */
  readonly confirmed: number;
  readonly elapsedSeconds: number;
  /** Cognito writes that succeeded (AdminCreateUser + AdminSetUserPassword) per second of provisioning. */
  readonly achievedRps: number;
  readonly throttled: number;
  readonly writesSent: number;
}

const WRITES = ['AdminCreateUser', 'AdminSetUserPassword'];

/**
 * Provisions `users` users through the real Plan and Provision handlers against cognito-local behind a
 * proxy that throttles a share of the Cognito writes, running the shards as the Provision Map does
 * (PROVISION_PARALLEL_SHARDS at once) at the configured cognitoWriteRps.
 */
export async function provisionUnderThrottling(options: {
  users: number;
  cognitoWriteRps: number;
  throttleShare: number;
}): Promise<ThrottledProvisioning> {
  setLogSink(() => {});
  const env = await startLocalEnvironment();
  const proxy = await startThrottlingProxy({
    target: env.endpoints.cognito,
    share: options.throttleShare,
    operations: WRITES,
  });
  const cognito = createClients({
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoints: { cognito: proxy.endpoint },
  }).cognito;
  try {
    const handlerEnv = {
      ...env.handlerEnv('http://127.0.0.1:1'),
      [ENV.cognitoWriteRps]: String(options.cognitoWriteRps),
    };
    const runtime = createRuntime(handlerEnv, { ...env.clients, cognito });
    const plan = await planHandler(() => runtime)({
      input: { users: { NumberOfUsers: options.users, NumberOfCallsPerUser: 1 } },
      executionName: 'bench-provision',
    });
    const provision = provisionHandler(() => runtime);
    const limit = pLimit(PROVISION_PARALLEL_SHARDS);
    const failures: string[] = [];
    const startedAt = performance.now();
    const settled = await Promise.all(
      plan.shards.map((shard) =>
        limit(() =>
          provision({ ...shard, keyId: plan.keyId }).catch((error: Error) => {
            failures.push(`shard ${shard.shard}: ${error.name}`);
            return undefined;
          }),
        ),
      ),
    );
    const elapsedSeconds = (performance.now() - startedAt) / 1000;
    const results = settled.filter((r): r is ProvisionResult => r !== undefined);
    const check = pLimit(16);
    const statuses = await Promise.all(
      Array.from({ length: options.users }, (_, index) =>
        check(() =>
          env.clients.cognito
            .send(new AdminGetUserCommand({ UserPoolId: env.stack.userPoolId, Username: usernameOf(index) }))
            .then((user) => user.UserStatus)
            .catch(() => 'missing'),
        ),
      ),
    );
    const count = (map: ReadonlyMap<string, number>) => WRITES.reduce((sum, op) => sum + (map.get(op) ?? 0), 0);
    const throttled = count(proxy.throttled);
    const writesSent = count(proxy.calls);
    return {
      users: options.users,
      configuredRps: options.cognitoWriteRps,
      throttleShare: options.throttleShare,
      results,
      failures,
      confirmed: statuses.filter((status) => status === 'CONFIRMED').length,
      elapsedSeconds,
      achievedRps: (writesSent - throttled) / elapsedSeconds,
      throttled,
      writesSent,
    };
  } finally {
    cognito.destroy();
    await proxy.stop();
    await env.stop();
    setLogSink(undefined);
  }
}

/** Provisioning under throttling: `users` users at 100 writes/s, 10% of the writes throttled. */
export async function benchProvision(users: number): Promise<void> {
  const out = await provisionUnderThrottling({ users, cognitoWriteRps: 100, throttleShare: 0.1 });
  const created = out.results.reduce((sum, r) => sum + r.created, 0);
  const ratio = out.achievedRps / out.configuredRps;
  console.log(
    `\nprovisioning ${users} users against cognito-local, ${out.throttleShare * 100}% of Cognito writes throttled`,
  );
  console.log(
    `  ${created} created, ${out.confirmed} confirmed, ${out.failures.length} failed shards${out.failures.length ? `: ${out.failures.join(', ')}` : ''}`,
  );
  console.log(
    `  ${out.writesSent} writes sent, ${out.throttled} throttled, ${out.elapsedSeconds.toFixed(1)} s: ${out.achievedRps.toFixed(1)} successful writes/s of ${out.configuredRps} configured (${(ratio * 100).toFixed(1)}%, want ≥ 90%)`,
  );
}
