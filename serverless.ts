/**
 * The service, composed: provider settings, functions, state machines and resources. Behaviour lives in
 * src/, state machines in stepfunctions/, CloudFormation in resources/. Config tests import this object.
 */
import { readYaml, STATE_MACHINE_FILES } from './sls/definitions';
import { functions } from './sls/functions';

const STACK = '${self:service}-${sls:stage}';
const STACK_TAG = 'apiloadtest:stack';

const arn = (service: string, resource: string) => ({
  'Fn::Join': [
    ':',
    ['arn', { Ref: 'AWS::Partition' }, service, { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, resource],
  ],
});

/** Least privilege: named actions only, on the stack's own pool, secrets, key and bucket. */
const iamStatements = [
  {
    Sid: 'TestUsersInTheStackPool',
    Effect: 'Allow',
    Action: [
      'cognito-idp:AdminCreateUser',
      'cognito-idp:AdminSetUserPassword',
      'cognito-idp:AdminInitiateAuth',
      'cognito-idp:AdminDeleteUser',
      'cognito-idp:ListUsers',
    ],
    Resource: [{ 'Fn::GetAtt': ['UserPool', 'Arn'] }],
  },
  {
    Sid: 'CredentialSecretsByPrefix',
    Effect: 'Allow',
    Action: [
      'secretsmanager:CreateSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:DeleteSecret',
      'secretsmanager:TagResource',
    ],
    Resource: [arn('secretsmanager', `secret:${STACK}/test-users/*`)],
  },
  {
    // ListSecrets has no resource-level permissions; it reveals names, never values.
    Sid: 'FindLeftoverSecrets',
    Effect: 'Allow',
    Action: ['secretsmanager:ListSecrets'],
    Resource: ['*'],
  },
  {
    Sid: 'CreateTaggedUserSetKey',
    Effect: 'Allow',
    Action: ['kms:CreateKey', 'kms:TagResource'],
    Resource: ['*'],
    Condition: { StringEquals: { [`aws:RequestTag/${STACK_TAG}`]: STACK } },
  },
  {
    Sid: 'UseAndRetireTheUserSetKey',
    Effect: 'Allow',
    Action: [
      'kms:DescribeKey',
      'kms:CreateAlias',
      'kms:DeleteAlias',
      'kms:ScheduleKeyDeletion',
      'kms:Encrypt',
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ],
    Resource: [arn('kms', 'key/*')],
    Condition: { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: STACK } },
  },
  {
    Sid: 'TheUserSetKeyAlias',
    Effect: 'Allow',
    Action: ['kms:CreateAlias', 'kms:DeleteAlias', 'kms:DescribeKey'],
    Resource: [arn('kms', `alias/${STACK}-test-users`)],
  },
  {
    Sid: 'RunResults',
    Effect: 'Allow',
    Action: ['s3:PutObject', 's3:GetObject'],
    Resource: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] }, '/runs/*']] }],
  },
  {
    Sid: 'ListRunResults',
    Effect: 'Allow',
    Action: ['s3:ListBucket'],
    Resource: [{ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] }],
  },
];

const stateMachines = Object.fromEntries(
  Object.entries(STATE_MACHINE_FILES).map(([key, file]) => [
    key,
    { name: `${STACK}-${key}`, definition: readYaml(file), tags: { [STACK_TAG]: STACK } },
  ]),
);

const resources = ['resources/cognito.yml', 'resources/results-bucket.yml', 'resources/outputs.yml'].map((file) =>
  readYaml(file),
);

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
      NODE_OPTIONS: '--enable-source-maps',
    },
    iam: { role: { statements: iamStatements } },
  },
  package: { individually: true },
  functions,
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
    Resources: Object.assign({}, ...resources.map((r) => r.Resources ?? {})),
    Outputs: Object.assign({}, ...resources.map((r) => r.Outputs ?? {})),
  },
};

module.exports = serverlessConfiguration;
