import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { packageService } from '../helpers';

type Resource = { Type: string; Properties: Record<string, any>; Condition?: string };
type Template = {
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Value: unknown }>;
  Conditions?: unknown;
};

const cfnLint = spawnSync('cfn-lint', ['--version'], { stdio: 'ignore' });
const cfnLintOnPath = cfnLint.error === undefined && cfnLint.status === 0;
if (!cfnLintOnPath) console.warn('template-byo: cfn-lint check skipped: cfn-lint not on PATH');

const POOL_ID = 'us-east-1_AbCdEfGhI';
const POOL_ARN = {
  'Fn::Join': [
    ':',
    [
      'arn',
      { Ref: 'AWS::Partition' },
      'cognito-idp',
      { Ref: 'AWS::Region' },
      { Ref: 'AWS::AccountId' },
      `userpool/${POOL_ID}`,
    ],
  ],
};

/** Packages the service offline with `--param`s, as `sls package` would for a deploy. */
const packageWith = (params: string[]): { template: Template; file: string; dir: string } =>
  packageService(['apiGatewayUrl=https://x.execute-api.us-east-1.amazonaws.com/items', ...params]);

const ofType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);
const cognitoStatements = (template: Template) =>
  ofType(template, 'AWS::IAM::Role')
    .flatMap(([, role]) => role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement))
    .filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('cognito-idp:')));
const envOf = (template: Template) =>
  ofType(template, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.Environment.Variables);

function lintErrors(file: string) {
  const run = spawnSync('cfn-lint', ['--format', 'parseable', file], { encoding: 'utf8', timeout: 120_000 });
  return {
    status: (run.status ?? 1) & 3,
    errors: run.stdout.split('\n').filter((line) => /:E\d{4}:/.test(line)),
    stderr: run.stderr,
  };
}

describe('packaged template, bring your own user pool (--param userPoolId)', () => {
  let packaged: ReturnType<typeof packageWith>;
  beforeAll(() => {
    packaged = packageWith([`userPoolId=${POOL_ID}`, 'userPrefix=byo-users']);
  }, 200_000);
  afterAll(() => rmSync(packaged.dir, { recursive: true, force: true }));

  it('creates no user pool, and its app client in the given pool', () => {
    const { template } = packaged;
    expect(ofType(template, 'AWS::Cognito::UserPool')).toEqual([]);
    const clients = ofType(template, 'AWS::Cognito::UserPoolClient');
    expect(clients).toHaveLength(1);
    const [, client] = clients[0] as [string, Resource];
    expect(client.Properties.UserPoolId).toBe(POOL_ID);
    expect(client.Properties.GenerateSecret).toBe(false);
    expect([...client.Properties.ExplicitAuthFlows].sort()).toEqual([
      'ALLOW_ADMIN_USER_PASSWORD_AUTH',
      'ALLOW_REFRESH_TOKEN_AUTH',
    ]);
    // Conditions are settled at package time: nothing is left for CloudFormation to decide.
    expect(template.Conditions).toBeUndefined();
    expect(JSON.stringify(template)).not.toContain('Fn::If');
  });

  it('grants Cognito actions on the given pool only', () => {
    const statements = cognitoStatements(packaged.template);
    expect(statements.length).toBeGreaterThanOrEqual(3);
    for (const statement of statements) expect(statement.Resource).toEqual([POOL_ARN]);
  });

  it('hands the Lambdas the given pool, our app client and the prefix', () => {
    for (const env of envOf(packaged.template)) {
      expect(env.LOADTEST_USER_POOL_ID).toBe(POOL_ID);
      expect(env.LOADTEST_USER_POOL_CLIENT_ID).toEqual({ Ref: 'UserPoolClient' });
      expect(env.LOADTEST_USERNAME_PREFIX).toBe('byo-users');
    }
    const { Outputs } = packaged.template;
    expect(Outputs.UserPoolId?.Value).toBe(POOL_ID);
    expect(Outputs.AppClientId?.Value).toEqual({ Ref: 'UserPoolClient' });
    expect(JSON.stringify(Outputs.IssuerUrl?.Value)).toContain(POOL_ID);
  });

  (cfnLintOnPath ? it : it.skip)(
    cfnLintOnPath ? 'passes cfn-lint with no errors' : 'passes cfn-lint with no errors (skipped: cfn-lint not on PATH)',
    () => expect(lintErrors(packaged.file)).toEqual({ status: 0, errors: [], stderr: '' }),
    120_000,
  );
});

describe('packaged template, bring your own pool and app client (--param appClientId)', () => {
  let packaged: ReturnType<typeof packageWith>;
  beforeAll(() => {
    packaged = packageWith([`userPoolId=${POOL_ID}`, 'appClientId=4example5client6id']);
  }, 200_000);
  afterAll(() => rmSync(packaged.dir, { recursive: true, force: true }));

  it('creates no Cognito resource at all and uses the given ids', () => {
    const { template } = packaged;
    expect(Object.values(template.Resources).filter((r) => r.Type.startsWith('AWS::Cognito::'))).toEqual([]);
    for (const env of envOf(template)) {
      expect(env.LOADTEST_USER_POOL_ID).toBe(POOL_ID);
      expect(env.LOADTEST_USER_POOL_CLIENT_ID).toBe('4example5client6id');
      expect(env.LOADTEST_USERNAME_PREFIX).toBe('loadtestuser');
    }
    expect(template.Outputs.AppClientId?.Value).toBe('4example5client6id');
    for (const statement of cognitoStatements(template)) expect(statement.Resource).toEqual([POOL_ARN]);
  });

  (cfnLintOnPath ? it : it.skip)(
    cfnLintOnPath ? 'passes cfn-lint with no errors' : 'passes cfn-lint with no errors (skipped: cfn-lint not on PATH)',
    () => expect(lintErrors(packaged.file)).toEqual({ status: 0, errors: [], stderr: '' }),
    120_000,
  );
});
