// Token-response quirks of real providers, applied to a successful /token body just before it is
// sent (after the grant logic, so the tokens themselves are exactly as without the profile).
// Each reproduces a response a relying party meets in the wild and must not choke on.
import type { IdpContext } from './context.js';

/** `body` with the active shape profiles applied; a new object, `body` itself is left alone. */
export function shapeTokenResponse(ctx: IdpContext, body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  // RFC 6749 §5.1: token_type is case-insensitive; GitHub, Slack and others send "bearer".
  if (ctx.profiles.has('token-type-lowercase') && typeof out.token_type === 'string') {
    out.token_type = out.token_type.toLowerCase();
  }
  // RFC 6749 §5.1: scope is OPTIONAL when it equals the requested scope.
  if (ctx.profiles.has('scope-omitted')) delete out.scope;
  // RFC 6749 §5.1 says a number; Entra ID's v1 endpoint (/{tenant}/oauth2/token) and Naver send "3599".
  if (ctx.profiles.has('expires-in-string') && typeof out.expires_in === 'number') {
    out.expires_in = String(out.expires_in);
  }
  // Keycloak states the refresh token's lifetime (its SSO session idle timeout) next to expires_in.
  if (ctx.profiles.has('keycloak') && typeof out.refresh_token === 'string') {
    out.refresh_expires_in = ctx.options.refreshTokenTtl;
  }
  return out;
}
