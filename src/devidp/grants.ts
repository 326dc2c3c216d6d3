// The user grants of the token endpoint (client credentials: clientCredentials.ts). Each does all its bookkeeping (burn the code, rotate
// the refresh token, create tokens in the store) synchronously before its first await, so
// concurrent requests cannot interleave between "is it unused?" and "mark it used".
import { createHash } from 'node:crypto';
import { type AccessRequest, type IssuedAccessToken, issueAccessToken } from './accessToken.js';
import { requestedAudience, tokenAudience } from './audience.js';
import type { IdpContext } from './context.js';
import { accessTokenTtl } from './context.js';
import { githubStyle } from './github.js';
import { issueIdToken } from './idToken.js';

export type GrantOutcome =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; status: number; error: string; description: string };

const fail = (error: string, description: string, status = 400): GrantOutcome => ({
  ok: false,
  status,
  error,
  description,
});

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export async function authorizationCodeGrant(
  ctx: IdpContext,
  params: Record<string, string>,
  clientId: string,
): Promise<GrantOutcome> {
  const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
  if (!code) return fail('invalid_request', 'code is required');
  if (!redirectUri) return fail('invalid_request', 'redirect_uri is required');
  if (!verifier) return fail('invalid_request', 'code_verifier is required (PKCE with S256)');
  if (!VERIFIER.test(verifier))
    return fail('invalid_request', 'code_verifier must be 43-128 characters of [A-Za-z0-9-._~]');
  // Checked before the code is burnt: a malformed resource is the client's typo, not an attack.
  const requested = requestedAudience(params);
  if (!requested.ok) return fail(requested.error, requested.description);
  const audience = requested.audience;
  const now = ctx.now();
  const consumed = ctx.tokens.consumeCode(code, now);
  if (consumed.kind === 'unknown') return fail('invalid_grant', 'unknown authorization code');
  if (consumed.kind === 'expired') return fail('invalid_grant', 'authorization code expired');
  if (consumed.kind === 'replayed') {
    const revoked = consumed.revoked ? '; the tokens issued from it are revoked' : '';
    return fail('invalid_grant', `authorization code was already used${revoked}`);
  }
  const grant = consumed.grant;
  if (grant.clientId !== clientId)
    return fail('invalid_grant', 'authorization code was issued to another client');
  if (grant.redirectUri !== redirectUri)
    return fail('invalid_grant', 'redirect_uri differs from the authorization request');
  if (s256(verifier) !== grant.codeChallenge) return fail('invalid_grant', 'PKCE verification failed');
  const user = ctx.users.bySub(grant.sub);
  if (user === undefined) return fail('invalid_grant', 'the user of this code no longer exists');

  const github = githubStyle(ctx);
  const withRefresh = grant.offline && github !== 'oauth-app' && !ctx.profiles.has('no-refresh-token');
  const refreshExpiry = now + ctx.options.refreshTokenTtl * 1000;
  const family = ctx.tokens.createFamily(
    code,
    grant,
    withRefresh ? refreshExpiry : now + accessTokenTtl(ctx) * 1000,
    now,
  );
  const refreshToken = withRefresh ? ctx.tokens.issueRefresh(family, refreshExpiry) : undefined;
  ctx.stats.grant('authorization_code');

  const accessGrant: AccessRequest = {
    familyId: family.id,
    sub: grant.sub,
    clientId,
    scope: grant.scope,
    sid: grant.sid,
    viaRefresh: false,
    audience: tokenAudience(ctx, ctx.clients.find(clientId), audience ?? grant.audience),
    subject: 'user',
  };
  const access = await issueAccessToken(ctx, accessGrant, now);
  if (github) return { ok: true, body: githubTokenBody(ctx, access, grant.scope, refreshToken) };
  const idToken = await issueIdToken(ctx, {
    user,
    clientId,
    sid: grant.sid,
    authTime: grant.authTime,
    nonce: grant.nonce,
    viaRefresh: false,
    scope: grant.scope,
    applyFailures: true,
    now,
  });
  return {
    ok: true,
    body: {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      scope: grant.scope,
      ...(idToken === undefined ? {} : { id_token: idToken }),
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    },
  };
}

export async function refreshTokenGrant(
  ctx: IdpContext,
  params: Record<string, string>,
  clientId: string,
): Promise<GrantOutcome> {
  const token = params.refresh_token;
  if (!token) return fail('invalid_request', 'refresh_token is required');
  const requested = requestedAudience(params);
  if (!requested.ok) return fail(requested.error, requested.description);
  if (ctx.profiles.has('refresh-invalid-grant'))
    return fail('invalid_grant', 'refresh refused (refresh-invalid-grant profile)');
  const omitToken = ctx.profiles.has('refresh-no-token-in-response');
  const reuseToken = ctx.profiles.has('refresh-reuses-token');
  const rotate = !omitToken && !reuseToken;
  const now = ctx.now();
  const used = ctx.tokens.useRefresh(token, clientId, now, { rotate, scope: params.scope });
  if (used.kind === 'invalid') return fail('invalid_grant', used.reason);
  if (used.kind === 'invalid_scope')
    return fail('invalid_scope', 'requested scope exceeds the original grant');
  if (used.kind === 'reused') {
    return fail(
      'invalid_grant',
      'refresh token was already used: reuse detected, the whole token family is revoked',
    );
  }
  const family = used.family;
  const user = ctx.users.bySub(family.sub);
  if (user === undefined) return fail('invalid_grant', 'the user of this grant no longer exists');
  const scope = params.scope ?? family.scope;
  const newToken = rotate
    ? ctx.tokens.issueRefresh(family, now + ctx.options.refreshTokenTtl * 1000)
    : undefined;
  const returned = omitToken ? undefined : (newToken ?? token);
  ctx.stats.grant('refresh_token');

  const access = await issueAccessToken(
    ctx,
    {
      familyId: family.id,
      sub: family.sub,
      clientId,
      scope,
      sid: family.sid,
      viaRefresh: true,
      audience: tokenAudience(ctx, ctx.clients.find(clientId), requested.audience ?? family.audience),
      subject: 'user',
    },
    now,
  );
  if (githubStyle(ctx)) return { ok: true, body: githubTokenBody(ctx, access, scope, returned) };
  const idToken =
    ctx.profiles.has('refresh-no-id-token') || !scope.split(' ').includes('openid')
      ? undefined
      : await issueIdToken(ctx, {
          user,
          clientId,
          sid: family.sid,
          authTime: family.authTime,
          nonce: undefined,
          viaRefresh: true,
          scope,
          applyFailures: false,
          now,
        });
  return {
    ok: true,
    body: {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      scope,
      ...(idToken === undefined ? {} : { id_token: idToken }),
      ...(returned === undefined ? {} : { refresh_token: returned }),
    },
  };
}

/**
 * GitHub's token response: no ID token, scopes comma-separated, `token_type: bearer`. OAuth app
 * tokens carry no expiry; GitHub App user tokens carry `expires_in`, a refresh token and
 * `refresh_token_expires_in`.
 */
function githubTokenBody(
  ctx: IdpContext,
  access: IssuedAccessToken,
  scope: string,
  refreshToken: string | undefined,
): Record<string, unknown> {
  return {
    access_token: access.token,
    token_type: 'bearer',
    scope: scope.split(' ').join(','),
    ...(access.expiresIn === undefined ? {} : { expires_in: access.expiresIn }),
    ...(refreshToken === undefined
      ? {}
      : { refresh_token: refreshToken, refresh_token_expires_in: ctx.options.refreshTokenTtl }),
  };
}
