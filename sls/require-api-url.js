/**
 * Refuses to deploy without `--param apiGatewayUrl=https://…`: the workers may only ever call that URL,
 * so a stack without it is useless. Packaging offline (tests, CI) works without it. Also refuses to
 * package `--param appClientId` without `--param userPoolId`.
 */
class RequireApiUrl {
  constructor(serverless) {
    this.serverless = serverless;
    const check = () => this.check();
    this.hooks = {
      'before:deploy:deploy': check,
      'before:deploy:function:initialize': check,
      'before:package:initialize': () => this.checkPool(),
    };
  }

  /** An app client of your own lives in a pool of your own: appClientId alone names a client in no known pool. */
  checkPool() {
    const given = (name) => this.serverless.service.provider.environment?.[name]?.['Fn::If']?.[2] ?? '';
    if (given('LOADTEST_USER_POOL_CLIENT_ID') && !given('LOADTEST_USER_POOL_ID')) {
      throw new Error('appClientId needs userPoolId: pass --param userPoolId=<the pool of that app client> too');
    }
    // Cognito's pool id shape: the id becomes part of every Cognito grant's ARN.
    const pool = given('LOADTEST_USER_POOL_ID');
    if (pool && !/^[\w-]+_[0-9a-zA-Z]+$/.test(pool)) {
      throw new Error(`userPoolId "${pool}" is not a user pool id like us-east-1_AbCdEfGhI`);
    }
  }

  check() {
    const value = this.serverless.service.provider.environment?.LOADTEST_TARGET_URL ?? '';
    const how =
      'pass it as: sls deploy --param apiGatewayUrl=https://<api-id>.execute-api.<region>.amazonaws.com/<path>';
    if (!value) throw new Error(`apiGatewayUrl is not set; ${how}`);
    let url;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`apiGatewayUrl "${value}" is not an absolute URL; ${how}`);
    }
    if (url.protocol !== 'https:') throw new Error(`apiGatewayUrl must use https, got "${value}"; ${how}`);
  }
}

module.exports = RequireApiUrl;
