import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };

/** Packages the real service offline (no AWS credentials needed) and reads the compiled template. */
describe('packaged CloudFormation template (sls package)', () => {
  let outDir: string;
  let template: { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), 'apiloadtest-package-'));
    execFileSync(
      process.execPath,
      [require.resolve('osls/bin/serverless.js'), 'package', '--package', outDir, '--stage', 'ci'],
      {
        cwd: ROOT,
        stdio: 'pipe',
        env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', SLS_TELEMETRY_DISABLED: '1' },
        timeout: 180_000,
      },
    );
    template = JSON.parse(readFileSync(join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'));
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
    expect(fns).toHaveLength(5);
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
            // Only actions with no resource-level permissions, or conditioned on the stack's tag.
            expect(
              actions.every((a: string) => a === 'secretsmanager:ListSecrets') || statement.Condition !== undefined,
            ).toBe(true);
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

  it('scopes Cognito actions to the stack pool, secrets to the stack prefix, keys to the stack tag', () => {
    const statements = ofType('AWS::IAM::Role')
      .filter(([id]) => !id.startsWith('Apiloadtest'))
      .flatMap(([, role]) => role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement));
    for (const statement of statements) {
      const actions: string[] = [statement.Action].flat();
      const resource = JSON.stringify(statement.Resource);
      if (actions.some((a) => a.startsWith('cognito-idp:')))
        expect(statement.Resource).toEqual([{ 'Fn::GetAtt': ['UserPool', 'Arn'] }]);
      if (actions.some((a) => a.startsWith('secretsmanager:') && a !== 'secretsmanager:ListSecrets')) {
        expect(resource).toContain('secret:apiloadtest-ci/test-users/*');
      }
      if (actions.some((a) => a.startsWith('kms:')) && resource.includes('key/*')) {
        expect(JSON.stringify(statement.Condition)).toContain('aws:ResourceTag/apiloadtest:stack');
      }
      if (actions.includes('kms:CreateKey'))
        expect(JSON.stringify(statement.Condition)).toContain('aws:RequestTag/apiloadtest:stack');
    }
  });
});
