import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readYaml, STATE_MACHINE_FILES } from '../../sls/definitions';
import { packageService } from '../helpers';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: any };

/** cfn-lint is an optional Python tool; a pyenv shim without it installed answers 127. */
const cfnLint = spawnSync('cfn-lint', ['--version'], { stdio: 'ignore' });
const cfnLintOnPath = cfnLint.error === undefined && cfnLint.status === 0;
if (!cfnLintOnPath) console.warn('template: cfn-lint check skipped: cfn-lint not on PATH');

const ACCOUNT = '123456789012';
/** A template ARN as it is once deployed in us-east-1. */
const resolve = (value: unknown): string => {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v.Ref)
    return { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': ACCOUNT }[v.Ref as string] ?? '';
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(resolve).join(v['Fn::Join'][0]);
  if (v['Fn::GetAtt']) return `${v['Fn::GetAtt'][0]}.Arn`;
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
};
/** IAM resource matching: `*` is any run of characters, `?` any one. */
const matches = (pattern: string, arn: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(arn);
const actionsOf = (s: Statement) => [s.Action].flat();
const resourcesOf = (s: Statement) => [s.Resource].flat().map(resolve);

/** Packages the real service offline (no AWS credentials needed) and reads the compiled template. */
describe('packaged CloudFormation template (sls package)', () => {
  let outDir: string;
  let template: { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  const statementsOf = (roleId: string): Statement[] =>
    (template.Resources[roleId] as Resource).Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
  const allStatements = () =>
    ofType('AWS::IAM::Role').flatMap(([id]) => statementsOf(id).map((s) => ({ role: id, ...s })));
  const kmsAllows = () =>
    allStatements().filter((s) => s.Effect === 'Allow' && actionsOf(s).some((a) => a.startsWith('kms:')));

  beforeAll(() => {
    const packaged = packageService();
    outDir = packaged.dir;
    template = packaged.template;
  }, 200_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('holds both state machines', () => {
    const machines = ofType('AWS::StepFunctions::StateMachine').map(([, r]) =>
      JSON.stringify(r.Properties.StateMachineName),
    );
    expect(machines).toEqual(
      expect.arrayContaining(['"apiloadtest-ci-createUsersAndFanOut"', '"apiloadtest-ci-deleteTestUsers"']),
    );
  });

  it('runs every function on nodejs22.x', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns).toHaveLength(6);
    for (const [, fn] of fns) expect(fn.Properties.Runtime).toBe('nodejs22.x');
  });

  it('has an admin-only user pool and a secretless client for ADMIN_USER_PASSWORD_AUTH', () => {
    const pool = template.Resources.UserPool as Resource;
    expect(pool.Type).toBe('AWS::Cognito::UserPool');
    expect(pool.Properties.AdminCreateUserConfig.AllowAdminCreateUserOnly).toBe(true);
    expect(pool.Properties.MfaConfiguration).toBe('OFF');
    const client = template.Resources.UserPoolClient as Resource;
    expect(client.Properties.GenerateSecret).toBe(false);
    expect(client.Properties.ExplicitAuthFlows.sort()).toEqual([
      'ALLOW_ADMIN_USER_PASSWORD_AUTH',
      'ALLOW_REFRESH_TOKEN_AUTH',
    ]);
  });

  it('has a private, encrypted, expiring results bucket that survives sls remove', () => {
    const bucket = template.Resources.ResultsBucket as Resource;
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(
      bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault
        .SSEAlgorithm,
    ).toBe('AES256');
    expect(bucket.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({
      Status: 'Enabled',
      ExpirationInDays: 30,
    });
  });

  it('outputs what the JWT authorizer needs and where reports go', () => {
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['UserPoolId', 'AppClientId', 'IssuerUrl', 'ResultsBucket']),
    );
    expect(JSON.stringify(template.Outputs.IssuerUrl)).toContain('https://cognito-idp.');
  });

  it('has the live-metrics dashboard, its URL in the outputs', () => {
    expect(ofType('AWS::CloudWatch::Dashboard').map(([id]) => id)).toEqual(['LoadDashboard']);
    expect(JSON.stringify(template.Outputs.DashboardUrl)).toContain('#dashboards:name=');
  });

  it('grants least privilege: no wildcard actions, no broad managed policies', () => {
    const roles = ofType('AWS::IAM::Role');
    expect(roles.length).toBeGreaterThan(0);
    for (const [, role] of roles) {
      const managed = JSON.stringify(role.Properties.ManagedPolicyArns ?? []);
      expect(managed).not.toMatch(
        /SecretsManagerReadWrite|AmazonCognitoPowerUser|AdministratorAccess|PowerUserAccess|FullAccess/,
      );
      for (const policy of role.Properties.Policies ?? []) {
        for (const statement of policy.PolicyDocument.Statement) {
          const actions = [statement.Action].flat();
          for (const action of actions) {
            expect(action).not.toBe('*');
            expect(action).not.toMatch(/:\*$/);
          }
          if (statement.Effect === 'Allow' && JSON.stringify(statement.Resource) === '["*"]') {
            // Only actions with no resource-level permissions (listing names and ids), or creating a key
            // that carries the stack's tag.
            const listing = actions.every((a: string) => ['secretsmanager:ListSecrets', 'kms:ListKeys'].includes(a));
            const creating =
              actions.join() === 'kms:CreateKey' &&
              statement.Condition?.StringEquals?.['aws:RequestTag/apiloadtest:stack'] === 'apiloadtest-ci';
            expect({ actions, allowed: listing || creating }).toEqual({ actions, allowed: true });
          }
        }
      }
    }
    expect(JSON.stringify(template)).not.toMatch(/"Action":\s*"\*"/);
  });

  it('gives each function its own role with only what it calls', () => {
    const actionsOf = (fn: string) => {
      const roleId = (template.Resources[`${fn}LambdaFunction`] as Resource).Properties.Role['Fn::GetAtt'][0];
      const role = template.Resources[roleId] as Resource;
      return role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement).flatMap((s: any) =>
        [s.Action].flat(),
      );
    };
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    expect(actionsOf('RunWorker').sort()).toEqual([
      'cognito-idp:AdminInitiateAuth',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:PutObject',
      'secretsmanager:GetSecretValue',
    ]);
    expect(actionsOf('StopRun').sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:PutObject']);
    expect(actionsOf('AggregateResults')).not.toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue']));
    expect(
      actionsOf('AggregateResults').some((a: string) => a.startsWith('cognito-idp:') || a.startsWith('kms:')),
    ).toBe(false);
    expect(actionsOf('ProvisionUsers')).not.toContain('cognito-idp:AdminDeleteUser');
    expect(actionsOf('DeleteTestUsers')).not.toContain('cognito-idp:AdminCreateUser');
    expect(actionsOf('PlanRun').filter((a: string) => !a.startsWith('kms:') && !a.startsWith('logs:'))).toEqual([
      's3:GetObject',
      's3:PutObject',
    ]);
  });

  it('lets S3 reads reach only the data file, the data shards and the stop marker', () => {
    const statements = ofType('AWS::IAM::Role')
      .filter(([id]) => !id.startsWith('Apiloadtest'))
      .flatMap(([id, role]) =>
        role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement).map((s: any) => ({ id, ...s })),
      );
    const reads = statements
      .filter((s: any) => [s.Action].flat().includes('s3:GetObject'))
      .map((s: any) => ({ role: s.id, paths: s.Resource.map((r: any) => r['Fn::Join'][1][1]) }));
    expect(reads).toEqual(
      expect.arrayContaining([
        { role: 'PlanRunRole', paths: ['/data/*'] },
        { role: 'RunWorkerRole', paths: ['/runs/*/data/*', '/runs/*/stop.json'] },
      ]),
    );
    // Aggregate reads the summaries; no other role reads the bucket.
    expect(reads.map((r: any) => r.role).sort()).toEqual(['AggregateResultsRole', 'PlanRunRole', 'RunWorkerRole']);
  });

  it('scopes Cognito actions to the stack pool, secrets to the stack prefix', () => {
    for (const statement of allStatements()) {
      const actions: string[] = [statement.Action].flat();
      const resource = JSON.stringify(statement.Resource);
      if (actions.some((a) => a.startsWith('cognito-idp:')))
        expect(statement.Resource).toEqual([{ 'Fn::GetAtt': ['UserPool', 'Arn'] }]);
      if (actions.some((a) => a.startsWith('secretsmanager:') && a !== 'secretsmanager:ListSecrets')) {
        expect(resource).toContain('secret:apiloadtest-ci/test-users/*');
      }
    }
  });

  describe('KMS', () => {
    const ALIAS = 'alias/apiloadtest-ci-test-users';
    const KEYS = `arn:aws:kms:us-east-1:${ACCOUNT}:key/*`;
    const ourShape = {
      'kms:KeySpec': 'SYMMETRIC_DEFAULT',
      'kms:KeyUsage': 'ENCRYPT_DECRYPT',
      'kms:KeyOrigin': 'AWS_KMS',
    };

    it('grants no standalone tagging: TagResource only for our tag, on keys with neither our tag key nor an alias', () => {
      const tagging = kmsAllows().filter((s) => actionsOf(s).some((a) => /^kms:(Tag|Untag)Resource$/.test(a)));
      expect(tagging.map((s) => [s.role, actionsOf(s)])).toEqual([['PlanRunRole', ['kms:TagResource']]]);
      const statement = tagging[0] as Statement;
      expect(resourcesOf(statement)).toEqual([KEYS]);
      // CreateKey's Tags need kms:TagResource on all keys; these conditions keep it off every key that
      // already is ours, another stage's, or aliased (aws:ResourceTag and kms:ResourceAliases are absent
      // only for a key without them, such as the one CreateKey is making).
      expect(statement.Condition).toEqual({
        StringEquals: { 'aws:RequestTag/apiloadtest:stack': 'apiloadtest-ci' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['apiloadtest:stack'] },
        Null: { 'aws:ResourceTag/apiloadtest:stack': 'true', 'kms:ResourceAliases': 'true' },
      });
    });

    it('creates only symmetric keys with the stack tag, never bypassing the key policy lockout check', () => {
      const creating = kmsAllows().filter((s) => actionsOf(s).includes('kms:CreateKey'));
      expect(creating.map((s) => [s.role, actionsOf(s)])).toEqual([['PlanRunRole', ['kms:CreateKey']]]);
      expect(creating[0]?.Condition).toEqual({
        StringEquals: {
          'aws:RequestTag/apiloadtest:stack': 'apiloadtest-ci',
          'kms:KeySpec': 'SYMMETRIC_DEFAULT',
          'kms:KeyUsage': 'ENCRYPT_DECRYPT',
        },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['apiloadtest:stack'] },
      });
      expect(statementsOf('PlanRunRole')).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: ['kms:CreateKey'],
          Resource: ['*'],
          Condition: { Bool: { 'kms:BypassPolicyLockoutSafetyCheck': 'true' } },
        }),
      );
    });

    it('grants no key deletion in IAM: ScheduleKeyDeletion and DeleteAlias on keys come only from the key policy', () => {
      // A tag or shape can be put on a key the stack never made (see sls/iam.ts); the policy CreateKey
      // wrote cannot, so no IAM statement may grant destroying keys.
      expect(
        allStatements()
          .filter((s) => actionsOf(s).includes('kms:ScheduleKeyDeletion'))
          .map((s) => [s.role, s.Sid]),
      ).toEqual([]);
      const unaliasing = kmsAllows().filter((s) => actionsOf(s).includes('kms:DeleteAlias'));
      expect(unaliasing.map((s) => s.role).sort()).toEqual(['DeleteTestUsersRole', 'PlanRunRole']);
      for (const s of unaliasing) {
        expect({ sid: s.Sid, resources: resourcesOf(s), condition: s.Condition }).toEqual({
          sid: s.Sid,
          resources: [`arn:aws:kms:us-east-1:${ACCOUNT}:${ALIAS}`],
          condition: undefined,
        });
      }
    });

    it('tells every function which roles the key policy names: PlanRun and DeleteTestUsers', () => {
      const retirers = {
        'Fn::Join': [',', [{ 'Fn::GetAtt': ['PlanRunRole', 'Arn'] }, { 'Fn::GetAtt': ['DeleteTestUsersRole', 'Arn'] }]],
      };
      const fns = ofType('AWS::Lambda::Function');
      expect(fns.length).toBeGreaterThan(0);
      for (const [, fn] of fns)
        expect(fn.Properties.Environment.Variables.LOADTEST_KEY_RETIRER_ROLE_ARNS).toEqual(retirers);
      for (const roleId of ['PlanRunRole', 'DeleteTestUsersRole']) {
        const role = template.Resources[roleId] as Resource & { DependsOn?: unknown };
        expect(role.Type).toBe('AWS::IAM::Role');
        // Functions depend on these roles through the variable; a role referring to a function would be a cycle.
        expect(JSON.stringify(role)).not.toMatch(/LambdaFunction/);
      }
    });

    it('aliases only a key of our shape that has no alias but ours', () => {
      const aliasing = kmsAllows().filter(
        (s) => actionsOf(s).includes('kms:CreateAlias') && resourcesOf(s).includes(KEYS),
      );
      expect(aliasing.map((s) => [s.role, actionsOf(s), s.Condition])).toEqual([
        [
          'PlanRunRole',
          ['kms:CreateAlias'],
          {
            StringEquals: ourShape,
            Bool: { 'kms:MultiRegion': 'false' },
            'ForAllValues:StringEquals': { 'kms:ResourceAliases': [ALIAS] },
          },
        ],
      ]);
    });

    it('leaves only reading key metadata and tags unconditioned on all keys', () => {
      const open = kmsAllows().filter((s) => resourcesOf(s).includes(KEYS) && s.Condition === undefined);
      expect([...new Set(open.flatMap(actionsOf))].sort()).toEqual(['kms:DescribeKey', 'kms:ListResourceTags']);
      expect(
        kmsAllows()
          .filter((s) => actionsOf(s).includes('kms:ListKeys'))
          .map((s) => s.role),
      ).toEqual(['DeleteTestUsersRole']);
    });

    it('uses keys for secrets only through Secrets Manager, and only the stack-tagged key', () => {
      const using = kmsAllows().filter((s) =>
        actionsOf(s).some((a) => ['kms:Decrypt', 'kms:GenerateDataKey'].includes(a)),
      );
      expect(using.length).toBeGreaterThan(0);
      for (const s of using) {
        expect(s.Condition.StringEquals['aws:ResourceTag/apiloadtest:stack']).toBe('apiloadtest-ci');
        expect(resolve(s.Condition.StringEquals['kms:ViaService'])).toBe('secretsmanager.us-east-1.amazonaws.com');
      }
    });
  });

  describe('state machine roles', () => {
    const machine = (key: string) =>
      ofType('AWS::StepFunctions::StateMachine').find(
        ([, r]) => r.Properties.StateMachineName === `apiloadtest-ci-${key}`,
      )?.[1] as Resource;
    const roleOf = (key: string) => machine(key).Properties.RoleArn['Fn::GetAtt'][0] as string;

    it('runs each state machine with its own role, tagged once', () => {
      for (const key of Object.keys(STATE_MACHINE_FILES)) {
        expect(template.Resources[roleOf(key)]?.Type).toBe('AWS::IAM::Role');
        const tags = machine(key).Properties.Tags.map((t: { Key: string }) => t.Key);
        expect(tags).toEqual([...new Set(tags)]);
        expect(tags).toContain('apiloadtest:stack');
      }
      expect(new Set(Object.keys(STATE_MACHINE_FILES).map(roleOf)).size).toBe(2);
    });

    it('lets the Distributed Map start, describe and stop its child workflows and nothing else', () => {
      const parent = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:apiloadtest-ci-createUsersAndFanOut`;
      const { States } = readYaml<{ States: Record<string, any> }>(STATE_MACHINE_FILES.createUsersAndFanOut);
      const label = States.FanOut.Label as string;
      // A child execution is named <stateMachine>/<map run label>:<id> (AWS: "IAM policies for using
      // Distributed Map states"), which `execution:<stateMachine>:*` does not match.
      const child = `arn:aws:states:us-east-1:${ACCOUNT}:execution:apiloadtest-ci-createUsersAndFanOut/${label}:3f1e9c2a-1b2c-4d5e-8f90-123456789abc`;
      const statements = statementsOf(roleOf('createUsersAndFanOut'));
      const granting = (action: string, arn: string) =>
        statements.some(
          (s) => s.Effect === 'Allow' && actionsOf(s).includes(action) && resourcesOf(s).some((p) => matches(p, arn)),
        );
      expect(granting('states:StartExecution', parent)).toBe(true);
      expect(granting('states:DescribeExecution', child)).toBe(true);
      expect(granting('states:StopExecution', child)).toBe(true);
      expect(matches(`${parent.replace(':stateMachine:', ':execution:')}:*`, child)).toBe(false);
      // Another state machine's executions, or another map's children, stay out of reach.
      expect(granting('states:StopExecution', child.replace('createUsersAndFanOut', 'other'))).toBe(false);
      expect(granting('states:StopExecution', child.replace(`/${label}:`, '/Other:'))).toBe(false);
      expect([...new Set(statements.flatMap(actionsOf))].sort()).toEqual([
        'lambda:InvokeFunction',
        'states:DescribeExecution',
        'states:StartExecution',
        'states:StopExecution',
      ]);
    });

    it('invokes exactly the functions its definition names', () => {
      const invoked = (key: string) =>
        statementsOf(roleOf(key))
          .filter((s) => actionsOf(s).includes('lambda:InvokeFunction'))
          .flatMap(resourcesOf)
          .sort();
      expect(invoked('createUsersAndFanOut')).toEqual([
        'AggregateResultsLambdaFunction.Arn',
        'PlanRunLambdaFunction.Arn',
        'ProvisionUsersLambdaFunction.Arn',
        'RunWorkerLambdaFunction.Arn',
      ]);
      expect(invoked('deleteTestUsers')).toEqual(['DeleteTestUsersLambdaFunction.Arn']);
      expect(statementsOf(roleOf('deleteTestUsers')).flatMap(actionsOf)).toEqual(['lambda:InvokeFunction']);
    });
  });

  (cfnLintOnPath ? it : it.skip)(
    cfnLintOnPath ? 'passes cfn-lint with no errors' : 'passes cfn-lint with no errors (skipped: cfn-lint not on PATH)',
    () => {
      const file = join(outDir, 'cloudformation-template-update-stack.json');
      const run = spawnSync('cfn-lint', ['--format', 'parseable', file], { encoding: 'utf8', timeout: 120_000 });
      // Exit status bits: 2 errors, 4 warnings, 8 informational; 1 means cfn-lint itself failed.
      const errors = run.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line));
      expect({ status: (run.status ?? 1) & 3, errors, stderr: run.stderr }).toEqual({
        status: 0,
        errors: [],
        stderr: '',
      });
    },
    120_000,
  );
});
