// Access tokens in RFC 9068 form (typ at+jwt) for every grant, or opaque random strings under
// opaque-access-tokens. Either way the dev IdP itself looks each one up in its store (by hash)
// when it comes back, so revocation takes effect at once and introspection can answer for both.
import type { JWTPayload } from 'jose';
import { identityClaims } from './claims.js';
import { accessTokenTtl, type IdpContext } from './context.js';
import { githubStyle } from './github.js';
import { type AccessGrant, randomToken } from './tokens.js';

export interface IssuedAccessToken {
  token: string;
  /** Seconds; undefined for GitHub-style tokens, which do not expire. */
  expiresIn: number | undefined;
}

/** What a grant asks for; the issue time and expiry are stamped here. */
export type AccessRequest = Omit<AccessGrant, 'iat' | 'exp'>;

/**
 * The identity claims of a token as a gateway reads them, shaped by the active claim profiles:
 * the same function for the JWT and for introspection, so both answer alike. A client-credentials
 * token has no user, hence none. Extra claims (admin mint) come last and win.
 */
export function accessIdentityClaims(ctx: IdpContext, grant: AccessGrant): Record<string, unknown> {
  const user = grant.subject === 'user' ? ctx.users.bySub(grant.sub) : undefined;
  const identity =
    user === undefined ? {} : identityClaims(ctx, user, 'access_token', grant.viaRefresh, grant.scope);
  return { ...identity, ...(grant.extraClaims ?? {}) };
}

/** The JWT claims set of an access token (RFC 9068 §2.2); never a nonce or at_hash. */
export function accessTokenClaims(ctx: IdpContext, grant: AccessGrant, jti: string): JWTPayload {
  return {
    ...accessIdentityClaims(ctx, grant),
    iss: ctx.issuer,
    sub: grant.sub,
    aud: grant.audience,
    client_id: grant.clientId,
    ...(grant.scope === '' ? {} : { scope: grant.scope }),
    ...(grant.sid === undefined ? {} : { sid: grant.sid }),
    jti,
    iat: grant.iat,
    ...(grant.exp === undefined ? {} : { exp: grant.exp }),
  };
}

export async function issueAccessToken(
  ctx: IdpContext,
  request: AccessRequest,
  now: number,
): Promise<IssuedAccessToken> {
  const github = githubStyle(ctx);
  const iat = Math.floor(now / 1000);
  if (github === 'oauth-app') {
    // GitHub OAuth app tokens are opaque and never expire; keep them as long as a refresh token.
    const token = `gho_${randomToken(27)}`;
    const grant = { ...request, iat, exp: undefined };
    ctx.tokens.recordAccess(token, grant, now + ctx.options.refreshTokenTtl * 1000, now);
    return { token, expiresIn: undefined };
  }
  const ttl = accessTokenTtl(ctx);
  const grant: AccessGrant = { ...request, iat, exp: iat + ttl };
  let token: string;
  if (github === 'app')
    token = `ghu_${randomToken(27)}`; // GitHub App user tokens: opaque, expiring
  else if (ctx.profiles.has('opaque-access-tokens')) token = randomToken(32);
  else token = await ctx.keys.sign(accessTokenClaims(ctx, grant, randomToken(16)), { typ: 'at+jwt' });
  ctx.tokens.recordAccess(token, grant, now + ttl * 1000, now);
  return { token, expiresIn: ttl };
}
