import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateUserPoolClientCommand,
  type CreateUserPoolClientCommandInput,
  CreateUserPoolCommand,
  type CreateUserPoolCommandInput,
} from '@aws-sdk/client-cognito-identity-provider';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { readYaml } from '../../sls/definitions';
import { KEY_RETIRERS } from '../../sls/iam';
import { type AwsClients, createClients } from '../lib/aws/clients';
import { DEFAULT_USERNAME_PREFIX, ENV, type Env } from '../lib/config';
import { type CognitoLocal, startCognitoLocal } from './cognito-local';
import { EMULATED_ACCOUNT, KmsSecretsEmulator } from './kms-secrets-emulator';
import { freePort } from './ports';

export const LOCAL_STAGE = 'local';
export const LOCAL_STACK = `apiloadtest-${LOCAL_STAGE}`;
// s3rver accepts only these; the other emulators accept anything.
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const REGION = 'us-east-1';

/** What `resources/` would have created, made in the emulators from the same settings. */
export interface LocalStack {
  readonly userPoolId: string;
  readonly clientId: string;
  readonly bucket: string;
  /** Issuer and JWKS of the pool, as an API Gateway JWT authorizer would be configured. */
  readonly issuer: string;
  readonly jwksUrl: string;
}

export interface LocalEnvironment {
  readonly workDir: string;
  readonly endpoints: { cognito: string; s3: string; kms: string; secrets: string };
  readonly clients: AwsClients;
  readonly kmsSecrets: KmsSecretsEmulator;
  readonly stack: LocalStack;
  /** PIDs of child processes this environment started (cognito-local). */
  readonly pids: readonly number[];
  /** The handlers' environment, with the same keys serverless.ts gives the Lambdas. */
  handlerEnv(targetUrl: string): Env;
  stop(): Promise<void>;
}

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** Resolves the `${self:service}-${sls:stage}` style strings of resources/*.yml for the local stage. */
const localize = (value: unknown): unknown =>
  typeof value === 'string'
    ? value.replace(/\$\{self:service\}/g, 'apiloadtest').replace(/\$\{sls:stage\}/g, LOCAL_STAGE)
    : value;

/** Creates the stack's resources (pool, app client, bucket) in whichever emulator `clients` point at. */
export async function deployStack(clients: AwsClients, cognitoEndpoint: string): Promise<LocalStack> {
  const resources = readYaml<{ Resources: Record<string, CfnResource> }>('resources/cognito.yml').Resources;
  const pool = resources.UserPool?.Properties ?? {};
  const client = resources.UserPoolClient?.Properties ?? {};
  const created = await clients.cognito.send(
    new CreateUserPoolCommand({
      PoolName: String(localize(pool.UserPoolName)),
      AdminCreateUserConfig: pool.AdminCreateUserConfig as CreateUserPoolCommandInput['AdminCreateUserConfig'],
      MfaConfiguration: pool.MfaConfiguration as CreateUserPoolCommandInput['MfaConfiguration'],
      Policies: pool.Policies as CreateUserPoolCommandInput['Policies'],
      UsernameConfiguration: pool.UsernameConfiguration as CreateUserPoolCommandInput['UsernameConfiguration'],
      Schema: pool.Schema as CreateUserPoolCommandInput['Schema'],
    }),
  );
  const userPoolId = created.UserPool?.Id;
  if (!userPoolId) throw new Error('cognito-local created no user pool');
  const appClient = await clients.cognito.send(
    new CreateUserPoolClientCommand({
      UserPoolId: userPoolId,
      ClientName: String(localize(client.ClientName)),
      GenerateSecret: client.GenerateSecret as boolean,
      ExplicitAuthFlows: client.ExplicitAuthFlows as CreateUserPoolClientCommandInput['ExplicitAuthFlows'],
      AccessTokenValidity: client.AccessTokenValidity as number,
      IdTokenValidity: client.IdTokenValidity as number,
      RefreshTokenValidity: client.RefreshTokenValidity as number,
      TokenValidityUnits: client.TokenValidityUnits as CreateUserPoolClientCommandInput['TokenValidityUnits'],
    }),
  );
  const clientId = appClient.UserPoolClient?.ClientId;
  if (!clientId) throw new Error('cognito-local created no app client');
  const bucket = `${LOCAL_STACK}-results`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const issuer = `${cognitoEndpoint}/${userPoolId}`;
  return { userPoolId, clientId, bucket, issuer, jwksUrl: `${issuer}/.well-known/jwks.json` };
}

/** The Lambda concurrency budget the local plan assumes (the CLI checks --users-per-worker against it). */
export const LOCAL_MAX_CONCURRENT_WORKERS = 800;

/** What serverless.ts's provider.environment resolves to, for the local stack (a config test compares the keys). */
export function localHandlerEnv(stack: Pick<LocalStack, 'userPoolId' | 'clientId' | 'bucket'>, targetUrl: string): Env {
  return {
    [ENV.stackName]: LOCAL_STACK,
    [ENV.usernamePrefix]: DEFAULT_USERNAME_PREFIX,
    [ENV.userPoolId]: stack.userPoolId,
    [ENV.userPoolClientId]: stack.clientId,
    [ENV.resultsBucket]: stack.bucket,
    [ENV.targetUrl]: targetUrl,
    // Emulators answer as fast as we ask; the cloud default protects Cognito's account quota.
    [ENV.cognitoWriteRps]: '500',
    [ENV.maxConcurrentWorkers]: String(LOCAL_MAX_CONCURRENT_WORKERS),
    [ENV.accountRootArn]: `arn:aws:iam::${EMULATED_ACCOUNT}:root`,
    // The emulators keep key policies without evaluating them; these name roles the cloud stack would have.
    [ENV.keyRetirerRoleArns]: KEY_RETIRERS.map(
      (fn) => `arn:aws:iam::${EMULATED_ACCOUNT}:role/${LOCAL_STACK}-${fn}`,
    ).join(','),
  };
}

const WORK_DIR_PREFIX = 'apiloadtest-';
/** Marks a work dir as ours and names the process that owns it, so a later run can tell it is stale. */
const PID_FILE = 'apiloadtest.pid';

/** Environments not yet stopped, including those still starting (a signal may arrive at any point). */
const running = new Set<() => Promise<void>>();
/** Work dirs not yet removed: removed synchronously on exit, whatever ends the process. */
const liveDirs = new Set<string>();
let exitHook = false;

function removeOnExit(dir: string): void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  liveDirs.add(dir);
}

/** Stops every environment of this process, started or still starting (the CLI calls it on a signal). */
export async function stopLocalEnvironments(): Promise<void> {
  await Promise.all([...running].map((stop) => stop().catch(() => undefined)));
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes the work dirs that killed runs left behind (cognito-local's database holds the test users'
 * passwords in plain text). Only dirs carrying our pid file, owned by this user, whose process is gone.
 */
export function removeStaleWorkDirs(parent: string = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(WORK_DIR_PREFIX)) continue;
    const dir = join(parent, name);
    let pid: number;
    try {
      if (statSync(dir).uid !== process.getuid?.()) continue;
      pid = Number(readFileSync(join(dir, PID_FILE), 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * Starts the emulators on free loopback ports and creates the stack's resources in them. Everything
 * lives in a temporary directory (mode 0700) that stop() removes, and that is removed on exit if stop()
 * never ran; stop() is safe to call more than once.
 */
export async function startLocalEnvironment(): Promise<LocalEnvironment> {
  removeStaleWorkDirs();
  // mkdtemp creates the directory with mode 0700.
  const workDir = mkdtempSync(join(tmpdir(), WORK_DIR_PREFIX));
  removeOnExit(workDir);
  writeFileSync(join(workDir, PID_FILE), String(process.pid), { mode: 0o600 });
  const stops: (() => Promise<void>)[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    running.delete(stop);
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
    liveDirs.delete(workDir);
  };
  running.add(stop);
  // A stop() during start-up (Ctrl-C) must also stop what is started after it.
  const own = async (stopIt: () => Promise<void>) => {
    if (!stopped) return void stops.push(stopIt);
    await stopIt().catch(() => undefined);
    throw new Error('the local environment was stopped while starting');
  };
  try {
    const kmsSecrets = new KmsSecretsEmulator();
    const kmsEndpoint = await kmsSecrets.start();
    await own(() => kmsSecrets.stop());

    const s3Port = await freePort();
    const s3 = new S3rver({ address: '127.0.0.1', port: s3Port, silent: true, directory: join(workDir, 's3') });
    await s3.run();
    await own(() => s3.close());
    const s3Endpoint = `http://127.0.0.1:${s3Port}`;

    const cognito: CognitoLocal = await startCognitoLocal(join(workDir, 'cognito'));
    await own(() => cognito.stop());

    const endpoints = { cognito: cognito.endpoint, s3: s3Endpoint, kms: kmsEndpoint, secrets: kmsEndpoint };
    const clients = createClients({ region: REGION, credentials: CREDENTIALS, endpoints });
    await own(async () => {
      for (const c of Object.values(clients)) c.destroy();
    });
    const stack = await deployStack(clients, cognito.endpoint);
    return {
      workDir,
      endpoints,
      clients,
      kmsSecrets,
      stack,
      pids: [cognito.pid],
      handlerEnv: (targetUrl) => localHandlerEnv(stack, targetUrl),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
