/**
 * The service, composed: provider settings, functions, state machines and resources. Behaviour lives in
 * src/, state machines in stepfunctions/, CloudFormation in resources/. Config tests import this object.
 */
import { dashboardResources } from './sls/dashboard';
import { readYaml, resourceFiles, STATE_MACHINE_FILES, type StateMachineKey } from './sls/definitions';
import { functions } from './sls/functions';
import {
  appClientIdValue,
  functionRoles,
  keyRetirerRoleArns,
  roleLogicalId,
  STACK,
  STACK_TAG,
  stateMachineName,
  stateMachineRoleLogicalId,
  stateMachineRoles,
  userPoolIdValue,
} from './sls/iam';

const definitions = Object.fromEntries(
  (Object.keys(STATE_MACHINE_FILES) as StateMachineKey[]).map((key) => [key, readYaml(STATE_MACHINE_FILES[key])]),
) as Record<StateMachineKey, Record<string, unknown>>;

// provider.tags already tags each state machine; tagging it here too lists the tag twice (cfn-lint E3024).
// Each runs with its own role (sls/iam.ts): the plugin's generated one misses Distributed Map children.
const stateMachines = Object.fromEntries(
  (Object.keys(definitions) as StateMachineKey[]).map((key) => [
    key,
    {
      name: stateMachineName(key),
      definition: definitions[key],
      role: { 'Fn::GetAtt': [stateMachineRoleLogicalId(key), 'Arn'] },
    },
  ]),
);

const resources = [...resourceFiles().map((file) => readYaml(file)), dashboardResources()];

const serverlessConfiguration = {
  service: 'apiloadtest',
  frameworkVersion: '>=3.38 <5',
  configValidationMode: 'error',
  plugins: [
    'serverless-esbuild',
    'serverless-step-functions',
    './sls/require-api-url.js',
    './sls/resolve-conditions.js',
  ],
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
      LOADTEST_USER_POOL_ID: userPoolIdValue,
      LOADTEST_USER_POOL_CLIENT_ID: appClientIdValue,
      // Test users are `<prefix><number>`; cleanup touches no other name (src/lib/config.ts checks it).
      LOADTEST_USERNAME_PREFIX: '${param:userPrefix, "loadtestuser"}',
      LOADTEST_RESULTS_BUCKET: { Ref: 'ResultsBucket' },
      // Empty when packaging offline; sls/require-api-url.js refuses to deploy without it.
      LOADTEST_TARGET_URL: '${param:apiGatewayUrl, ""}',
      LOADTEST_COGNITO_WRITE_RPS: '${param:cognitoWriteRps, "40"}',
      LOADTEST_MAX_CONCURRENT_WORKERS: '${param:maxConcurrentWorkers, "800"}',
      LOADTEST_ACCOUNT_ROOT_ARN: {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
      },
      LOADTEST_KEY_RETIRER_ROLE_ARNS: keyRetirerRoleArns,
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
    Conditions: Object.assign({}, ...resources.map((r) => (r as { Conditions?: object }).Conditions ?? {})),
    Resources: Object.assign(
      functionRoles(),
      stateMachineRoles(definitions),
      ...resources.map((r) => r.Resources ?? {}),
    ),
    Outputs: Object.assign({}, ...resources.map((r) => r.Outputs ?? {})),
  },
};

module.exports = serverlessConfiguration;
