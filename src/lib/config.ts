import { ConfigError } from './errors';

/** Environment variable names: the only place `process.env` keys are spelled. */
export const ENV = {
  stackName: 'LOADTEST_STACK_NAME',
  userPoolId: 'LOADTEST_USER_POOL_ID',
  userPoolClientId: 'LOADTEST_USER_POOL_CLIENT_ID',
  resultsBucket: 'LOADTEST_RESULTS_BUCKET',
  targetUrl: 'LOADTEST_TARGET_URL',
  cognitoWriteRps: 'LOADTEST_COGNITO_WRITE_RPS',
  maxConcurrentWorkers: 'LOADTEST_MAX_CONCURRENT_WORKERS',
  accountRootArn: 'LOADTEST_ACCOUNT_ROOT_ARN',
  keyRetirerRoleArns: 'LOADTEST_KEY_RETIRER_ROLE_ARNS',
  usernamePrefix: 'LOADTEST_USERNAME_PREFIX',
} as const;

/** Test users are `<prefix><number>`; `--param userPrefix` changes the prefix (e.g. in a pool of your own). */
export const DEFAULT_USERNAME_PREFIX = 'loadtestuser';
/** Lower case, so that it means the same in a pool whose usernames are case-insensitive. */
const USERNAME_PREFIX_SHAPE = /^[a-z0-9_-]{1,40}$/;

/** Below Lambda's default 1,000 concurrent executions per account, leaving room for everything else. */
export const DEFAULT_MAX_CONCURRENT_WORKERS = 800;

/** Below Cognito's 50 RPS per account for user creation, leaving room for anything else in the account. */
export const DEFAULT_COGNITO_WRITE_RPS = 40;

export interface Config {
  /** `<service>-<stage>`: names, tags and prefixes of everything made at run time derive from it. */
  readonly stackName: string;
  readonly userPoolId: string;
  readonly userPoolClientId: string;
  readonly resultsBucket: string;
  /** The API under test. Execution input may vary the path, never the origin. */
  readonly targetUrl: URL;
  /** `arn:<partition>:iam::<account>:root`: the principal of the user set's key policy. */
  readonly accountRootArn: string;
  /** The stack's roles that the user set's key policy lets retire the key (PlanRun's and DeleteTestUsers'). */
  readonly keyRetirerRoleArns: readonly string[];
  /** Alias of the user set's KMS key. */
  readonly keyAlias: string;
  /** Name prefix of the credential secrets (one secret per shard of users). */
  readonly secretPrefix: string;
  /** Cognito create/update/delete calls per second for the whole stack, split among parallel tasks. */
  readonly cognitoWriteRps: number;
  /** Worker Lambdas that may run at once; more users than this share workers. */
  readonly maxConcurrentWorkers: number;
  /** Every test user's name starts with it; provisioning, workers and cleanup use no other names. */
  readonly usernamePrefix: string;
}

export const keyAliasFor = (stackName: string): string => `alias/${stackName}-test-users`;
export const secretPrefixFor = (stackName: string): string => `${stackName}/test-users/`;

const ACCOUNT_ROOT_ARN = /^arn:aws[a-z-]*:iam::\d{12}:root$/;
/** IAM's role name and path characters; a key policy names roles by this exact ARN. */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads and checks the whole configuration at once; one error lists everything missing or wrong. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is not set`);
    return value ?? '';
  };
  const stackName = read(ENV.stackName);
  const userPoolId = read(ENV.userPoolId);
  const userPoolClientId = read(ENV.userPoolClientId);
  const resultsBucket = read(ENV.resultsBucket);
  const target = read(ENV.targetUrl);
  const accountRootArn = read(ENV.accountRootArn);
  if (accountRootArn && !ACCOUNT_ROOT_ARN.test(accountRootArn)) {
    problems.push(`${ENV.accountRootArn} must look like arn:aws:iam::123456789012:root, got "${accountRootArn}"`);
  }
  const retirers = read(ENV.keyRetirerRoleArns);
  const keyRetirerRoleArns = retirers
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);
  // A key no stack role may retire would outlive every cleanup.
  if (retirers && keyRetirerRoleArns.length === 0) problems.push(`${ENV.keyRetirerRoleArns} lists no role ARN`);
  for (const roleArn of keyRetirerRoleArns.filter((value) => !ROLE_ARN.test(value))) {
    problems.push(
      `${ENV.keyRetirerRoleArns} must list role ARNs like arn:aws:iam::123456789012:role/name, got "${roleArn}"`,
    );
  }
  let targetUrl = new URL('http://invalid.invalid/');
  if (target) {
    try {
      targetUrl = parseTargetUrl(target);
    } catch (error) {
      problems.push(`${ENV.targetUrl} ${(error as Error).message}`);
    }
  }
  const positive = (name: string, fallback: number, integer: boolean): number => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      problems.push(`${name} must be a positive ${integer ? 'whole ' : ''}number, got "${text}"`);
    }
    return value;
  };
  const cognitoWriteRps = positive(ENV.cognitoWriteRps, DEFAULT_COGNITO_WRITE_RPS, false);
  const maxConcurrentWorkers = positive(ENV.maxConcurrentWorkers, DEFAULT_MAX_CONCURRENT_WORKERS, true);
  const usernamePrefix = env[ENV.usernamePrefix]?.trim() || DEFAULT_USERNAME_PREFIX;
  if (!USERNAME_PREFIX_SHAPE.test(usernamePrefix)) {
    problems.push(`${ENV.usernamePrefix} must be 1 to 40 of a-z, 0-9, _ and -, got "${usernamePrefix}"`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return {
    stackName,
    userPoolId,
    userPoolClientId,
    resultsBucket,
    targetUrl,
    accountRootArn,
    keyRetirerRoleArns,
    keyAlias: keyAliasFor(stackName),
    secretPrefix: secretPrefixFor(stackName),
    cognitoWriteRps,
    maxConcurrentWorkers,
    usernamePrefix,
  };
}

/** An absolute http(s) URL without credentials, query or fragment. */
export function parseTargetUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`must be an absolute URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`must use http or https, got "${url.protocol.replace(':', '')}"`);
  }
  if (url.username || url.password) throw new Error('must not carry credentials');
  if (url.search || url.hash) throw new Error('must not carry a query string or fragment');
  return url;
}
