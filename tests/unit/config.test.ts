import { ENV, loadConfig } from '../../src/lib/config';
import { ConfigError } from '../../src/lib/errors';

const complete = {
  [ENV.stackName]: 'apiloadtest-dev',
  [ENV.userPoolId]: 'us-east-1_abc',
  [ENV.userPoolClientId]: 'client',
  [ENV.resultsBucket]: 'bucket',
  [ENV.targetUrl]: 'https://api.example.com/items',
  [ENV.accountRootArn]: 'arn:aws:iam::123456789012:root',
  [ENV.keyRetirerRoleArns]:
    'arn:aws:iam::123456789012:role/a-planRun, arn:aws:iam::123456789012:role/a-deleteTestUsers',
};

describe('loadConfig', () => {
  it('derives names from the stack name', () => {
    const config = loadConfig(complete);
    expect(config.keyAlias).toBe('alias/apiloadtest-dev-test-users');
    expect(config.secretPrefix).toBe('apiloadtest-dev/test-users/');
    expect(config.targetUrl.href).toBe('https://api.example.com/items');
    expect(config.cognitoWriteRps).toBe(40);
  });

  it('lists everything missing in one error', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    expect(() => loadConfig({})).toThrow(
      /LOADTEST_STACK_NAME is not set; LOADTEST_USER_POOL_ID is not set; LOADTEST_USER_POOL_CLIENT_ID is not set; LOADTEST_RESULTS_BUCKET is not set; LOADTEST_TARGET_URL is not set; LOADTEST_ACCOUNT_ROOT_ARN is not set; LOADTEST_KEY_RETIRER_ROLE_ARNS is not set/,
    );
  });

  it.each([
    ['ftp://x/', /must use http or https/],
    ['not a url', /must be an absolute URL/],
    ['https://u:p@h/', /must not carry credentials/],
    ['https://h/?q=1', /query string/],
  ])('rejects target %s', (target, message) => {
    expect(() => loadConfig({ ...complete, [ENV.targetUrl]: target })).toThrow(message);
  });

  it.each(['123456789012', 'arn:aws:iam::123456789012:user/x', 'arn:aws:iam::12345:root'])(
    'rejects account root ARN %s',
    (arn) => {
      expect(() => loadConfig({ ...complete, [ENV.accountRootArn]: arn })).toThrow(/LOADTEST_ACCOUNT_ROOT_ARN/);
    },
  );

  it('accepts other partitions', () => {
    const arn = 'arn:aws-cn:iam::123456789012:root';
    expect(loadConfig({ ...complete, [ENV.accountRootArn]: arn }).accountRootArn).toBe(arn);
  });

  it('reads the key retirer roles as a list', () => {
    expect(loadConfig(complete).keyRetirerRoleArns).toEqual([
      'arn:aws:iam::123456789012:role/a-planRun',
      'arn:aws:iam::123456789012:role/a-deleteTestUsers',
    ]);
  });

  it('names every key retirer that is not a role ARN, with the other problems', () => {
    const env = {
      ...complete,
      [ENV.keyRetirerRoleArns]: 'arn:aws:iam::123456789012:role/ok,arn:aws:iam::123456789012:user/x,*',
      [ENV.cognitoWriteRps]: '0',
    };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(
      /LOADTEST_KEY_RETIRER_ROLE_ARNS must list role ARNs .* got "arn:aws:iam::123456789012:user\/x"; LOADTEST_KEY_RETIRER_ROLE_ARNS must list role ARNs .* got "\*"; LOADTEST_COGNITO_WRITE_RPS/,
    );
    expect(() => loadConfig({ ...complete, [ENV.keyRetirerRoleArns]: ' , ' })).toThrow(
      /LOADTEST_KEY_RETIRER_ROLE_ARNS lists no role ARN/,
    );
  });

  it('rejects a bad rate', () => {
    expect(() => loadConfig({ ...complete, [ENV.cognitoWriteRps]: '-1' })).toThrow(/LOADTEST_COGNITO_WRITE_RPS/);
  });

  it('takes the username prefix, loadtestuser by default, lower case only', () => {
    expect(loadConfig(complete).usernamePrefix).toBe('loadtestuser');
    expect(loadConfig({ ...complete, [ENV.usernamePrefix]: 'team-a_load' }).usernamePrefix).toBe('team-a_load');
    for (const bad of ['Upper', 'with space', 'x'.repeat(41), 'dot.ted']) {
      expect(() => loadConfig({ ...complete, [ENV.usernamePrefix]: bad })).toThrow(/LOADTEST_USERNAME_PREFIX must be/);
    }
  });
});
