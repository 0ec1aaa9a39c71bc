import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';

/** The scope API Gateway's JWT authorizer is configured with for Cognito access tokens. */
export const REQUIRED_SCOPE = 'aws.cognito.signin.user.admin';

export interface VerifiedToken {
  readonly username: string;
  readonly claims: Record<string, unknown>;
}

export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

const b64json = (part: string | undefined): Record<string, unknown> => {
  if (!part) throw new TokenRejected('malformed token');
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new TokenRejected('malformed token');
  }
};

/**
 * Checks a bearer token the way an API Gateway HTTP API JWT authorizer does: RS256 signature against
 * the issuer's JWKS, `iss`, audience (`aud` or, for access tokens, `client_id`), `exp`/`nbf`, and the
 * required scope. Keys are fetched once and again only for an unknown `kid`.
 */
export class JwtVerifier {
  private keys = new Map<string, KeyObject>();
  /** One JWKS fetch at a time: a thousand first requests must not fetch it a thousand times. */
  private fetching: Promise<void> | undefined;

  constructor(
    private readonly options: {
      issuer: string;
      audience: string;
      jwksUrl: string;
      scope?: string;
      now?: () => number;
    },
  ) {}

  private refreshKeys(): Promise<void> {
    this.fetching ??= this.fetchKeys().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchKeys(): Promise<void> {
    const response = await fetch(this.options.jwksUrl);
    if (!response.ok) throw new Error(`JWKS fetch failed: ${response.status}`);
    const { keys } = (await response.json()) as { keys: (JsonWebKey & { kid?: string })[] };
    this.keys = new Map(
      keys.filter((k) => k.kid).map((k) => [String(k.kid), createPublicKey({ key: k, format: 'jwk' })]),
    );
  }

  async verify(authorization: string | undefined): Promise<VerifiedToken> {
    const token = authorization?.replace(/^Bearer\s+/i, '').trim();
    if (!token) throw new TokenRejected('missing token');
    const parts = token.split('.');
    if (parts.length !== 3) throw new TokenRejected('malformed token');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = b64json(headerPart);
    if (header.alg !== 'RS256') throw new TokenRejected(`unsupported alg ${String(header.alg)}`);
    const kid = String(header.kid ?? '');
    if (!this.keys.has(kid)) await this.refreshKeys();
    const key = this.keys.get(kid);
    if (!key) throw new TokenRejected('unknown signing key');
    const signed = Buffer.from(`${headerPart}.${payloadPart}`);
    if (!verify('RSA-SHA256', signed, key, Buffer.from(signaturePart, 'base64url'))) {
      throw new TokenRejected('bad signature');
    }
    const claims = b64json(payloadPart);
    const now = Math.floor((this.options.now ?? Date.now)() / 1000);
    if (claims.iss !== this.options.issuer) throw new TokenRejected('wrong issuer');
    const audiences = [claims.aud, claims.client_id].flat().filter((a) => typeof a === 'string');
    if (!audiences.includes(this.options.audience)) throw new TokenRejected('wrong audience');
    if (typeof claims.exp !== 'number' || claims.exp <= now) throw new TokenRejected('expired');
    if (typeof claims.nbf === 'number' && claims.nbf > now) throw new TokenRejected('not yet valid');
    const scope = this.options.scope ?? REQUIRED_SCOPE;
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (scope && !scopes.includes(scope)) throw new TokenRejected('missing scope');
    const username = typeof claims.username === 'string' ? claims.username : String(claims.sub ?? '');
    return { username, claims };
  }
}
