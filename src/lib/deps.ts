import { type AwsClients, createClients } from './aws/clients';
import type { UserPool } from './aws/cognito';
import type { ResultsStore } from './aws/results';
import { type Config, type Env, loadConfig } from './config';

/** Everything a handler needs, built once per cold start from the configuration. */
export interface Runtime {
  readonly config: Config;
  readonly clients: AwsClients;
  readonly pool: UserPool;
  readonly results: ResultsStore;
}

export function createRuntime(env?: Env, clients: AwsClients = createClients()): Runtime {
  const config = loadConfig(env);
  return {
    config,
    clients,
    pool: { client: clients.cognito, userPoolId: config.userPoolId, clientId: config.userPoolClientId },
    results: { client: clients.s3, bucket: config.resultsBucket },
  };
}

/** Builds the runtime on first use, so importing a handler (in tests) needs no configuration. */
export function lazyRuntime(): () => Runtime {
  let runtime: Runtime | undefined;
  return () => {
    runtime ??= createRuntime();
    return runtime;
  };
}
