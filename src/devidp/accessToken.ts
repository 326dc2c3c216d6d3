// Access tokens: RFC 9068 JWTs (typ at+jwt) so a gateway can read `exp` if it wants, but the
// dev IdP itself always looks them up in its store, so revocation takes effect at once.
import { accessTokenTtl, type IdpContext } from './context.js';
import { githubStyle } from './github.js';
import { type AccessGrant, randomToken } from './tokens.js';

export interface IssuedAccessToken {
  token: string;
  /** Seconds; undefined for GitHub-style tokens, which do not expire. */
  expiresIn: number | undefined;
}

export async function issueAccessToken(
  ctx: IdpContext,
  grant: AccessGrant,
  now: number,
): Promise<IssuedAccessToken> {
  const github = githubStyle(ctx);
  if (github === 'oauth-app') {
    // GitHub OAuth app tokens are opaque and never expire; keep them as long as a refresh token.
    const token = `gho_${randomToken(27)}`;
    ctx.tokens.recordAccess(token, grant, now + ctx.options.refreshTokenTtl * 1000, now);
    return { token, expiresIn: undefined };
  }
  if (github === 'app') {
    // GitHub App user tokens are opaque and expire (8 h at GitHub; the TTL flags here).
    const ttl = accessTokenTtl(ctx);
    const token = `ghu_${randomToken(27)}`;
    ctx.tokens.recordAccess(token, grant, now + ttl * 1000, now);
    return { token, expiresIn: ttl };
  }
  const ttl = accessTokenTtl(ctx);
  const iat = Math.floor(now / 1000);
  const token = await ctx.keys.sign(
    {
      iss: ctx.issuer,
      sub: grant.sub,
      aud: grant.clientId,
      client_id: grant.clientId,
      scope: grant.scope,
      sid: grant.sid,
      jti: randomToken(16),
      iat,
      exp: iat + ttl,
    },
    { typ: 'at+jwt' },
  );
  ctx.tokens.recordAccess(token, grant, now + ttl * 1000, now);
  return { token, expiresIn: ttl };
}
