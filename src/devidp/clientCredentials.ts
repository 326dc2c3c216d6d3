// The client_credentials grant (RFC 6749 §4.4): a machine client gets an access token for
// itself. No user, no ID token, no refresh token (§4.4.3); `sub` is the client id (RFC 9068 §2.2).
import { issueAccessToken } from './accessToken.js';
import { requestedAudience, tokenAudience } from './audience.js';
import { scopesAllowed } from './clients.js';
import type { IdpContext } from './context.js';
import type { GrantOutcome } from './grants.js';

export async function clientCredentialsGrant(
  ctx: IdpContext,
  params: Record<string, string>,
  clientId: string,
): Promise<GrantOutcome> {
  const client = ctx.clients.find(clientId);
  if (client === undefined)
    return { ok: false, status: 401, error: 'invalid_client', description: 'unknown client' };
  const requestedScopes = (params.scope ?? '').split(' ').filter((s) => s !== '');
  if (!scopesAllowed(requestedScopes, client.scopes)) {
    const extra = requestedScopes.filter((s) => !client.scopes?.includes(s));
    return {
      ok: false,
      status: 400,
      error: 'invalid_scope',
      description: `client ${clientId} may not request: ${extra.join(' ')} (allowed: ${client.scopes?.join(' ') || 'none'})`,
    };
  }
  const requested = requestedAudience(params);
  if (!requested.ok)
    return { ok: false, status: 400, error: requested.error, description: requested.description };
  // No scope asked for: every scope the client may have, as Auth0 and Okta grant by default.
  const scope = (params.scope === undefined ? (client.scopes ?? []) : requestedScopes).join(' ');
  const now = ctx.now();
  ctx.stats.grant('client_credentials');
  const access = await issueAccessToken(
    ctx,
    {
      familyId: undefined,
      sub: clientId,
      clientId,
      scope,
      sid: undefined,
      viaRefresh: false,
      audience: tokenAudience(ctx, client, requested.audience),
      subject: 'client',
    },
    now,
  );
  return {
    ok: true,
    body: {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: access.expiresIn,
      ...(scope === '' ? {} : { scope }),
    },
  };
}
