import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  type CognitoIdentityProviderClient,
  ListUsersCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { AppError, errorName } from '../errors';

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** Epoch milliseconds at which the access token expires. */
  readonly expiresAt: number;
}

export interface UserPool {
  readonly client: CognitoIdentityProviderClient;
  readonly userPoolId: string;
  readonly clientId: string;
}

/**
 * Custom attribute naming the stack that made a test user. Cleanup deletes no user without it, so a
 * pool shared with real users (README, "Bring your own user pool") loses none of them.
 */
export const MARKER_ATTRIBUTE = 'custom:apiloadtest';

type Attributes = readonly { Name?: string; Value?: string }[] | undefined;
const markerOf = (attributes: Attributes) => attributes?.find((a) => a.Name === MARKER_ATTRIBUTE)?.Value;

/**
 * Creates the user, marked as `stackName`'s, with no welcome message. An existing user is reused only
 * if it carries that mark: anyone else's user of the same name is never given our password.
 * Returns whether it was new.
 */
export async function createUser(pool: UserPool, username: string, stackName: string): Promise<boolean> {
  try {
    await pool.client.send(
      new AdminCreateUserCommand({
        UserPoolId: pool.userPoolId,
        Username: username,
        MessageAction: 'SUPPRESS',
        UserAttributes: [{ Name: MARKER_ATTRIBUTE, Value: stackName }],
      }),
    );
    return true;
  } catch (error) {
    if (errorName(error) !== 'UsernameExistsException') throw error;
  }
  const existing = await pool.client.send(new AdminGetUserCommand({ UserPoolId: pool.userPoolId, Username: username }));
  if (markerOf(existing.UserAttributes) !== stackName) {
    throw new AppError(
      'UserNotOurs',
      `${username} already exists in the pool without ${MARKER_ATTRIBUTE}=${stackName}; choose another --param userPrefix`,
    );
  }
  return false;
}

/** Sets a permanent password, which also moves the user out of FORCE_CHANGE_PASSWORD. */
export async function setPermanentPassword(pool: UserPool, username: string, password: string): Promise<void> {
  await pool.client.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: pool.userPoolId,
      Username: username,
      Password: password,
      Permanent: true,
    }),
  );
}

export async function deleteUser(pool: UserPool, username: string): Promise<boolean> {
  try {
    await pool.client.send(new AdminDeleteUserCommand({ UserPoolId: pool.userPoolId, Username: username }));
    return true;
  } catch (error) {
    if (errorName(error) === 'UserNotFoundException') return false;
    throw error;
  }
}

export interface TestUsers {
  /** Names starting with the prefix and marked as the stack's. */
  readonly ours: string[];
  /** Names starting with the prefix without the stack's mark: someone else's, never touched. */
  readonly notOurs: string[];
}

/** The users whose names start with `prefix`, split by whether they carry `stackName`'s mark. */
export async function listTestUsers(pool: UserPool, prefix: string, stackName: string): Promise<TestUsers> {
  const users: TestUsers = { ours: [], notOurs: [] };
  await eachUser(pool, prefix, (name, attributes) =>
    (markerOf(attributes) === stackName ? users.ours : users.notOurs).push(name),
  );
  return users;
}

/** Every username in the pool that starts with `prefix`, page by page. */
export async function listUsernames(pool: UserPool, prefix: string): Promise<string[]> {
  const names: string[] = [];
  await eachUser(pool, prefix, (name) => names.push(name));
  return names;
}

async function eachUser(pool: UserPool, prefix: string, visit: (name: string, attributes: Attributes) => void) {
  let token: string | undefined;
  do {
    const page = await pool.client.send(
      new ListUsersCommand({
        UserPoolId: pool.userPoolId,
        Filter: `username ^= "${prefix}"`,
        Limit: 60,
        PaginationToken: token,
      }),
    );
    for (const user of page.Users ?? []) {
      // Filtered again here: some implementations ignore the filter.
      if (user.Username?.startsWith(prefix)) visit(user.Username, user.Attributes);
    }
    token = page.PaginationToken;
  } while (token);
}

function tokensFrom(
  result: { AccessToken?: string; RefreshToken?: string; ExpiresIn?: number } | undefined,
  now: number,
  refreshToken?: string,
): Tokens {
  if (!result?.AccessToken)
    throw new AppError('LoginFailed', 'Cognito returned no access token (is a challenge pending?)');
  return {
    accessToken: result.AccessToken,
    refreshToken: result.RefreshToken ?? refreshToken,
    expiresAt: now + (result.ExpiresIn ?? 3600) * 1000,
  };
}

/** ADMIN_USER_PASSWORD_AUTH: the app client has no secret, so no SECRET_HASH. */
export async function login(pool: UserPool, username: string, password: string, now = Date.now): Promise<Tokens> {
  try {
    const out = await pool.client.send(
      new AdminInitiateAuthCommand({
        UserPoolId: pool.userPoolId,
        ClientId: pool.clientId,
        AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: username, PASSWORD: password },
      }),
    );
    return tokensFrom(out.AuthenticationResult, now());
  } catch (error) {
    if (error instanceof AppError) throw error;
    // The SDK's message never holds the password, but keep only the error name to be sure.
    throw new AppError('LoginFailed', `login of ${username} failed: ${errorName(error)}`, { cause: errorName(error) });
  }
}

export async function refresh(pool: UserPool, username: string, refreshToken: string, now = Date.now): Promise<Tokens> {
  try {
    const out = await pool.client.send(
      new AdminInitiateAuthCommand({
        UserPoolId: pool.userPoolId,
        ClientId: pool.clientId,
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        AuthParameters: { REFRESH_TOKEN: refreshToken },
      }),
    );
    return tokensFrom(out.AuthenticationResult, now(), refreshToken);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('LoginFailed', `token refresh of ${username} failed: ${errorName(error)}`);
  }
}
