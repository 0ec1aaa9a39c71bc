/**
 * One IAM role per function, each with only what that function calls: named actions, on the stack's
 * own pool, secret prefix, tagged key, alias and bucket. No wildcard actions, no managed policies.
 */
import { type FunctionKey, functions } from './functions';

export const STACK = '${self:service}-${sls:stage}';
export const STACK_TAG = 'apiloadtest:stack';

type Statement = { Sid: string; Effect: 'Allow'; Action: string[]; Resource: unknown[]; Condition?: unknown };

const arn = (service: string, resource: string) => ({
  'Fn::Join': [
    ':',
    ['arn', { Ref: 'AWS::Partition' }, service, { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, resource],
  ],
});

const userPool = [{ 'Fn::GetAtt': ['UserPool', 'Arn'] }];
const secrets = [arn('secretsmanager', `secret:${STACK}/test-users/*`)];
const taggedKeys = [arn('kms', 'key/*')];
const alias = [arn('kms', `alias/${STACK}-test-users`)];
const inBucket = (path: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] }, path]] });
const runs = [inBucket('/runs/*')];
const onStackKey = { StringEquals: { [`aws:ResourceTag/${STACK_TAG}`]: STACK } };
/** Secrets Manager encrypts and decrypts with the caller's rights, and only through itself. */
const viaSecretsManager = {
  StringEquals: {
    [`aws:ResourceTag/${STACK_TAG}`]: STACK,
    'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
  },
};

const allow = (Sid: string, Action: string[], Resource: unknown[], Condition?: unknown): Statement => ({
  Sid,
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});

const kmsUseThroughSecrets = (actions: string[]) =>
  allow('UserSetKeyThroughSecretsManager', actions, taggedKeys, viaSecretsManager);

export const functionStatements: Record<FunctionKey, Statement[]> = {
  planRun: [
    allow('CreateTaggedUserSetKey', ['kms:CreateKey', 'kms:TagResource'], ['*'], {
      StringEquals: { [`aws:RequestTag/${STACK_TAG}`]: STACK },
    }),
    allow(
      'FindAndAliasTheKey',
      ['kms:DescribeKey', 'kms:CreateAlias', 'kms:DeleteAlias', 'kms:ScheduleKeyDeletion'],
      taggedKeys,
      onStackKey,
    ),
    allow('TheKeyAlias', ['kms:DescribeKey', 'kms:CreateAlias', 'kms:DeleteAlias'], alias),
    // The input's data file is uploaded under data/; the plan splits it into one file per shard of users.
    allow('ReadDataFile', ['s3:GetObject'], [inBucket('/data/*')]),
    allow('WriteDataShards', ['s3:PutObject'], runs),
  ],
  provisionUsers: [
    allow('CreateTestUsers', ['cognito-idp:AdminCreateUser', 'cognito-idp:AdminSetUserPassword'], userPool),
    allow(
      'StoreCredentials',
      [
        'secretsmanager:GetSecretValue',
        'secretsmanager:CreateSecret',
        'secretsmanager:PutSecretValue',
        'secretsmanager:TagResource',
      ],
      secrets,
    ),
    kmsUseThroughSecrets(['kms:GenerateDataKey', 'kms:Decrypt']),
  ],
  runWorker: [
    allow('LogIn', ['cognito-idp:AdminInitiateAuth'], userPool),
    allow('ReadCredentials', ['secretsmanager:GetSecretValue'], secrets),
    kmsUseThroughSecrets(['kms:Decrypt']),
    allow('WriteSummary', ['s3:PutObject'], runs),
    // Its users' data rows, and the stop switch's marker: nothing else of a run is readable.
    allow('ReadDataShardsAndStop', ['s3:GetObject'], [inBucket('/runs/*/data/*'), inBucket('/runs/*/stop.json')]),
  ],
  aggregateResults: [
    allow('ReadSummariesWriteReport', ['s3:GetObject', 's3:PutObject'], runs),
    allow('ListSummaries', ['s3:ListBucket'], [{ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] }]),
  ],
  deleteTestUsers: [
    allow('DeleteTestUsers', ['cognito-idp:ListUsers', 'cognito-idp:AdminDeleteUser'], userPool),
    allow('DeleteCredentials', ['secretsmanager:DeleteSecret'], secrets),
    // ListSecrets has no resource-level permissions; it reveals names, never values.
    allow('FindLeftoverSecrets', ['secretsmanager:ListSecrets'], ['*']),
    allow('RetireTheKey', ['kms:DescribeKey', 'kms:ScheduleKeyDeletion', 'kms:DeleteAlias'], taggedKeys, onStackKey),
    allow('TheKeyAlias', ['kms:DescribeKey', 'kms:DeleteAlias'], alias),
  ],
};

/** `planRun` -> `PlanRunRole`. */
export const roleLogicalId = (key: string): string => `${key.charAt(0).toUpperCase()}${key.slice(1)}Role`;

/** The CloudFormation roles: the function's statements plus writing its own log group. */
export function functionRoles(): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(functions) as FunctionKey[]).map((key) => [
      roleLogicalId(key),
      {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] },
            ],
          },
          Policies: [
            {
              PolicyName: key,
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  allow(
                    'OwnLogGroup',
                    ['logs:CreateLogStream', 'logs:PutLogEvents'],
                    [arn('logs', `log-group:/aws/lambda/${STACK}-${key}:*`)],
                  ),
                  ...functionStatements[key],
                ],
              },
            },
          ],
          Tags: [{ Key: STACK_TAG, Value: STACK }],
        },
      },
    ]),
  );
}
