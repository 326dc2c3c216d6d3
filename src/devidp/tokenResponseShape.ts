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
  return out;
}
