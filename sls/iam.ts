/**
 * One IAM role per function, each with only what that function calls: named actions, on the stack's
 * own pool, secret prefix, key, alias and bucket. No wildcard actions, no managed policies. The state
 * machines get explicit roles too (serverless-step-functions' generated ones do not match Distributed
 * Map child executions).
 *
 * KMS, and why the grants look the way they do (AWS KMS Developer Guide):
 * - "Controlling access to tags": CreateKey with Tags needs kms:TagResource "in an IAM policy that isn't
 *   restricted to particular KMS keys". None of the condition keys KMS evaluates for TagResource
 *   (aws:RequestTag, aws:TagKeys, aws:ResourceTag, kms:CallerAccount, kms:KeySpec/KeyUsage/KeyOrigin,
 *   kms:ViaService) tells the tagging done by CreateKey from a later TagResource call, so tagging is
 *   fenced instead: only our tag key and value, never on a key that already has our tag key (another
 *   stage's key cannot be re-labelled ours) or any alias. aws:ResourceTag and kms:ResourceAliases are
 *   absent for the key CreateKey is making, so the Null conditions hold there. The fence still lets
 *   Plan tag an existing key of our shape that has no alias and no tag of ours, so neither tag nor
 *   shape can prove that the stack created a key.
 * - "Key policies in AWS KMS": every KMS key has exactly one key policy, and in a key policy
 *   `Resource: "*"` means this KMS key. The user set's key policy (src/lib/aws/kms.ts userSetKeyPolicy),
 *   sent with CreateKey by Plan and nowhere else, names the PlanRun and DeleteTestUsers roles for
 *   kms:ScheduleKeyDeletion and kms:DeleteAlias. That statement is the proof of ownership: no IAM
 *   statement below grants ScheduleKeyDeletion, or DeleteAlias on keys, so the stack can destroy only
 *   keys it created, whatever their tags or aliases say. DeleteAlias needs "kms:DeleteAlias on the
 *   alias (IAM policy)" and "kms:DeleteAlias on the KMS key (key policy)" (DeleteAlias API reference):
 *   the alias side stays below, on our alias ARN only.
 * - "ABAC for AWS KMS": tag and alias changes take up to five minutes to affect authorization, so no
 *   step that runs right after CreateKey or CreateAlias may depend on the new tag or alias. The key
 *   policy is part of the key from CreateKey on, so Plan's retirement of a key whose alias could not
 *   be made no longer waits on tag propagation (cleanup still finds such a key by its tag).
 * - "Use aliases to control access to KMS keys": kms:ResourceAliases is multi-valued; ForAllValues
 *   limits CreateAlias on keys to a key with no alias but ours.
 * The tag still finds the stack's keys (cleanup's scan) and scopes their use through Secrets Manager.
 * IAM User Guide, "AWS JSON policy elements: Principal": a role ARN in a resource policy is saved as
 * the role's unique principal ID, and "the policy no longer applies, even if you recreate" the role.
 * A role that `sls remove` deleted and a later deploy re-created cannot retire older keys, so cleanup
 * runs before `sls remove` (README).
 */
import { keyAliasFor, secretPrefixFor } from '../src/lib/config';
import type { StateMachineKey } from './definitions';
import { type FunctionKey, functions } from './functions';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Serverless variables, resolved when the service is packaged.
export const STACK = '${self:service}-${sls:stage}';
export const STACK_TAG = 'apiloadtest:stack';
export const KEY_ALIAS = keyAliasFor(STACK);

type Statement = {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: unknown[];
  Condition?: Record<string, Record<string, unknown>>;
};

const arn = (service: string, resource: string) => ({
  'Fn::Join': [
    ':',
    ['arn', { Ref: 'AWS::Partition' }, service, { Ref: 'AWS::Region' }, { Ref: 'AWS::AccountId' }, resource],
  ],
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: Serverless variables, resolved when the service is packaged.
const GIVEN_POOL_ID = '${param:userPoolId, ""}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: Serverless variables, resolved when the service is packaged.
const GIVEN_CLIENT_ID = '${param:appClientId, ""}';
/** The test users' pool id: the stack's own, or the one given with `--param userPoolId` (resources/cognito.yml). */
export const userPoolIdValue = { 'Fn::If': ['CreatePool', { Ref: 'UserPool' }, GIVEN_POOL_ID] };
/** The workers' app client id: the stack's own, or the one given with `--param appClientId`. */
export const appClientIdValue = { 'Fn::If': ['CreateClient', { Ref: 'UserPoolClient' }, GIVEN_CLIENT_ID] };
/** The pool's ARN in either mode: every Cognito grant is on this pool and no other. */
export const userPoolArn = {
  'Fn::If': ['CreatePool', { 'Fn::GetAtt': ['UserPool', 'Arn'] }, arn('cognito-idp', `userpool/${GIVEN_POOL_ID}`)],
};
const userPool = [userPoolArn];
const secrets = [arn('secretsmanager', `secret:${secretPrefixFor(STACK)}*`)];
const keys = [arn('kms', 'key/*')];
const alias = [arn('kms', KEY_ALIAS)];
const inBucket = (path: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['ResultsBucket', 'Arn'] }, path]] });
const runs = [inBucket('/runs/*')];
/** The stop switch's marker of any run (src/lib/stop.ts). */
const stopMarkers = [inBucket('/runs/*/stop.json')];

/** The only kind of key the stack creates; aliasing grants never reach any other kind. */
const KEY_SHAPE = {
  'kms:KeySpec': 'SYMMETRIC_DEFAULT',
  'kms:KeyUsage': 'ENCRYPT_DECRYPT',
  'kms:KeyOrigin': 'AWS_KMS',
};
const keyOfOurShape = { StringEquals: KEY_SHAPE, Bool: { 'kms:MultiRegion': 'false' } };
/** Our tag, and only our tag, in the request. */
const onlyOurTag = {
  StringEquals: { [`aws:RequestTag/${STACK_TAG}`]: STACK },
  'ForAllValues:StringEquals': { 'aws:TagKeys': [STACK_TAG] },
};

/** Secrets Manager encrypts and decrypts with the caller's rights, and only through itself. */
const viaSecretsManager = {
  StringEquals: {
    [`aws:ResourceTag/${STACK_TAG}`]: STACK,
    'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
  },
};

const allow = (Sid: string, Action: string[], Resource: unknown[], Condition?: Statement['Condition']): Statement => ({
  Sid,
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});

const kmsUseThroughSecrets = (actions: string[]) =>
  allow('UserSetKeyThroughSecretsManager', actions, keys, viaSecretsManager);

/** Key metadata only; by alias right after another execution made it, so it cannot wait for ABAC. */
const describeKeys = allow('DescribeKeys', ['kms:DescribeKey'], keys);

export const functionStatements: Record<FunctionKey, Statement[]> = {
  planRun: [
    allow('CreateTheUserSetKey', ['kms:CreateKey'], ['*'], {
      ...onlyOurTag,
      StringEquals: {
        ...onlyOurTag.StringEquals,
        'kms:KeySpec': 'SYMMETRIC_DEFAULT',
        'kms:KeyUsage': 'ENCRYPT_DECRYPT',
      },
    }),
    {
      // The documented guard (Control Tower CT.KMS.PV.3): a key nobody can manage again is never made.
      Sid: 'NeverBypassTheLockoutCheck',
      Effect: 'Deny',
      Action: ['kms:CreateKey'],
      Resource: ['*'],
      Condition: { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': 'true' } },
    },
    allow('TagOnlyTheKeyBeingCreated', ['kms:TagResource'], keys, {
      ...onlyOurTag,
      Null: { [`aws:ResourceTag/${STACK_TAG}`]: 'true', 'kms:ResourceAliases': 'true' },
    }),
    describeKeys,
    // DeleteAlias on the key side, and ScheduleKeyDeletion, come from the key's own policy only.
    allow('TheKeyAlias', ['kms:CreateAlias', 'kms:DeleteAlias'], alias),
    // A key with no alias yet (or only ours, when a lost response is retried): the key just created.
    allow('AliasTheNewKey', ['kms:CreateAlias'], keys, {
      ...keyOfOurShape,
      'ForAllValues:StringEquals': { 'kms:ResourceAliases': [KEY_ALIAS] },
    }),
    // The input's data file is uploaded under data/; the plan splits it into one file per shard of users.
    allow('ReadDataFile', ['s3:GetObject'], [inBucket('/data/*')]),
    allow('WriteDataShards', ['s3:PutObject'], runs),
  ],
  provisionUsers: [
    // AdminGetUser: a user of the same name is reused only if it carries the stack's mark.
    allow(
      'CreateTestUsers',
      ['cognito-idp:AdminCreateUser', 'cognito-idp:AdminGetUser', 'cognito-idp:AdminSetUserPassword'],
      userPool,
    ),
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
  stopRun: [allow('RaiseStopSwitch', ['s3:PutObject'], stopMarkers)],
  deleteTestUsers: [
    allow('DeleteTestUsers', ['cognito-idp:ListUsers', 'cognito-idp:AdminDeleteUser'], userPool),
    allow('DeleteCredentials', ['secretsmanager:DeleteSecret'], secrets),
    // ListSecrets and ListKeys have no resource-level permissions; they reveal names and ids, never values.
    allow('FindLeftoverSecrets', ['secretsmanager:ListSecrets'], ['*']),
    allow('FindLeftoverKeys', ['kms:ListKeys'], ['*']),
    allow('ReadKeyTags', ['kms:ListResourceTags'], keys),
    describeKeys,
    // Retiring keys is granted by each key's policy, which only keys the stack created carry.
    allow('TheKeyAlias', ['kms:DeleteAlias'], alias),
  ],
};

/** `planRun` -> `PlanRunRole`. */
export const roleLogicalId = (key: string): string => `${key.charAt(0).toUpperCase()}${key.slice(1)}Role`;

/** The functions whose roles the user set's key policy lets retire the key (see the header). */
export const KEY_RETIRERS: readonly FunctionKey[] = ['planRun', 'deleteTestUsers'];
/** LOADTEST_KEY_RETIRER_ROLE_ARNS: roles never depend on functions, so this adds no dependency cycle. */
export const keyRetirerRoleArns = {
  'Fn::Join': [',', KEY_RETIRERS.map((key) => ({ 'Fn::GetAtt': [roleLogicalId(key), 'Arn'] }))],
};

const role = (service: string, policyName: string, statements: Statement[]) => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: [service] }, Action: ['sts:AssumeRole'] }],
    },
    Policies: [{ PolicyName: policyName, PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    Tags: [{ Key: STACK_TAG, Value: STACK }],
  },
});

/** The CloudFormation roles: the function's statements plus writing its own log group. */
export function functionRoles(): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(functions) as FunctionKey[]).map((key) => [
      roleLogicalId(key),
      role('lambda.amazonaws.com', key, [
        allow(
          'OwnLogGroup',
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [arn('logs', `log-group:/aws/lambda/${STACK}-${key}:*`)],
        ),
        ...functionStatements[key],
      ]),
    ]),
  );
}

type AslState = {
  Type: string;
  Label?: string;
  Parameters?: { FunctionName?: { 'Fn::GetAtt'?: [string, string] } };
  ItemProcessor?: { ProcessorConfig?: { Mode?: string }; States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
};

/** Every state of a definition, nested Map processors and Parallel branches included. */
function everyState(states: Record<string, AslState>): [string, AslState][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, AslState],
    ...(state.ItemProcessor ? everyState(state.ItemProcessor.States) : []),
    ...(state.Branches ?? []).flatMap((branch) => everyState(branch.States)),
  ]);
}

export const stateMachineName = (key: StateMachineKey): string => `${STACK}-${key}`;
/** `createUsersAndFanOut` -> `CreateUsersAndFanOutStateMachineRole`. */
export const stateMachineRoleLogicalId = (key: StateMachineKey): string =>
  `${key.charAt(0).toUpperCase()}${key.slice(1)}StateMachineRole`;

/**
 * What one state machine does: invoke its task functions and, for each Distributed Map, run child
 * workflows of itself. AWS Step Functions Developer Guide, "IAM policies for using Distributed Map
 * states": StartExecution on the state machine, DescribeExecution/StopExecution on its child executions,
 * whose ARNs are `execution:<stateMachine>/<mapRunLabel>:<id>` (not `execution:<stateMachine>:*`, which
 * is all the serverless-step-functions plugin grants). A Distributed Map must therefore carry a Label.
 */
export function stateMachineStatements(key: StateMachineKey, definition: { States: Record<string, unknown> }) {
  const states = everyState(definition.States as Record<string, AslState>);
  const invoked = [
    ...new Set(states.flatMap(([, s]) => (s.Type === 'Task' ? [s.Parameters?.FunctionName?.['Fn::GetAtt']?.[0]] : []))),
  ];
  if (invoked.some((id) => id === undefined))
    throw new Error(`${key}: a Task state invokes no function of serverless.ts`);
  const distributed = states.filter(
    ([, s]) => s.Type === 'Map' && s.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED',
  );
  const labels = distributed.map(([name, s]) => {
    if (!s.Label)
      throw new Error(`${key}: Distributed Map ${name} needs a Label (its child executions are named by it)`);
    return s.Label;
  });
  const name = stateMachineName(key);
  return [
    allow(
      'InvokeTaskFunctions',
      ['lambda:InvokeFunction'],
      invoked.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
    ),
    ...(labels.length
      ? [
          allow('StartChildWorkflows', ['states:StartExecution'], [arn('states', `stateMachine:${name}`)]),
          allow(
            'WatchChildWorkflows',
            ['states:DescribeExecution', 'states:StopExecution'],
            labels.map((label) => arn('states', `execution:${name}/${label}:*`)),
          ),
        ]
      : []),
  ];
}

/** The state machines' roles, from their definitions. */
export function stateMachineRoles(definitions: Record<StateMachineKey, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    (Object.keys(definitions) as StateMachineKey[]).map((key) => [
      stateMachineRoleLogicalId(key),
      role(
        'states.amazonaws.com',
        `${key}-statemachine`,
        stateMachineStatements(key, definitions[key] as { States: Record<string, unknown> }),
      ),
    ]),
  );
}
