/**
 * The service, composed: provider settings, functions, state machines and resources. Behaviour lives in
 * src/, state machines in stepfunctions/, CloudFormation in resources/. Config tests import this object.
 */
import { readYaml, resourceFiles, STATE_MACHINE_FILES } from './sls/definitions';
import { functions } from './sls/functions';
import { functionRoles, roleLogicalId, STACK, STACK_TAG } from './sls/iam';

const stateMachines = Object.fromEntries(
  Object.entries(STATE_MACHINE_FILES).map(([key, file]) => [
    key,
    { name: `${STACK}-${key}`, definition: readYaml(file), tags: { [STACK_TAG]: STACK } },
  ]),
);

const resources = resourceFiles().map((file) => readYaml(file));

const serverlessConfiguration = {
  service: 'apiloadtest',
  frameworkVersion: '>=3.38 <5',
  configValidationMode: 'error',
  plugins: ['serverless-esbuild', 'serverless-step-functions', './sls/require-api-url.js'],
  provider: {
    name: 'aws',
    runtime: 'nodejs22.x',
    architecture: 'arm64',
    stage: '${opt:stage, "dev"}',
    region: '${opt:region, "us-east-1"}',
    logRetentionInDays: 14,
    tags: { [STACK_TAG]: STACK },
    environment: {
      LOADTEST_STACK_NAME: STACK,
      LOADTEST_USER_POOL_ID: { Ref: 'UserPool' },
      LOADTEST_USER_POOL_CLIENT_ID: { Ref: 'UserPoolClient' },
      LOADTEST_RESULTS_BUCKET: { Ref: 'ResultsBucket' },
      // Empty when packaging offline; sls/require-api-url.js refuses to deploy without it.
      LOADTEST_TARGET_URL: '${param:apiGatewayUrl, ""}',
      LOADTEST_COGNITO_WRITE_RPS: '${param:cognitoWriteRps, "40"}',
      LOADTEST_MAX_CONCURRENT_WORKERS: '${param:maxConcurrentWorkers, "800"}',
      LOADTEST_ACCOUNT_ROOT_ARN: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
      },
      NODE_OPTIONS: '--enable-source-maps',
    },
  },
  package: { individually: true },
  // Each function runs with its own role (sls/iam.ts): only what that function calls.
  functions: Object.fromEntries(
    Object.entries(functions).map(([key, fn]) => [key, { ...fn, role: roleLogicalId(key) }]),
  ),
  stepFunctions: { validate: true, stateMachines },
  custom: {
    esbuild: {
      bundle: true,
      minify: false,
      sourcemap: true,
      keepNames: true,
      target: 'node22',
      platform: 'node',
      // Bundle the SDK too: the version we test is the version we run.
      exclude: [],
    },
  },
  resources: {
    Resources: Object.assign(functionRoles(), ...resources.map((r) => r.Resources ?? {})),
    Outputs: Object.assign({}, ...resources.map((r) => r.Outputs ?? {})),
  },
};

module.exports = serverlessConfiguration;
