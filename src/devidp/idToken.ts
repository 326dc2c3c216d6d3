// ID tokens, including the broken ones the failure profiles ask for. Failures apply to the
// authorization_code grant only: that is where an RP validates hardest and where a bug locks
// users out at login rather than silently later.
import type { JWTPayload } from 'jose';
import { identityClaims } from './claims.js';
import { type IdpContext, idTokenTtl } from './context.js';
import { entraTenantIssuerTemplate } from './discovery.js';
import { entraTenantOf } from './entra.js';
import { randomToken } from './tokens.js';
import type { DevUser } from './types.js';

/** Under entra-multi-tenant, the user's tenant issuer (`<root>/<tid>/v2.0`). */
function tenantIssuerOf(ctx: IdpContext, user: DevUser): string | undefined {
  return entraTenantIssuerTemplate(ctx)?.replace('{tenantid}', entraTenantOf(user));
}

export const WRONG_ISSUER = 'https://wrong-issuer.example';
export const WRONG_AUDIENCE = 'some-other-client';

export interface IdTokenInput {
  user: DevUser;
  /** The client it is for: its `aud` and `azp`. */
  clientId: string;
  sid: string;
  /** Seconds since the epoch. */
  authTime: number;
  nonce: string | undefined;
  viaRefresh: boolean;
  /** The grant's scope. */
  scope?: string;
  /** Apply the failure profiles (missing, expired, bad signature, wrong aud/iss, nonce). */
  applyFailures: boolean;
  /** Milliseconds. */
  now: number;
}

/** A signed ID token, or undefined when a profile says the response carries none. */
export async function issueIdToken(ctx: IdpContext, p: IdTokenInput): Promise<string | undefined> {
  const has = (name: Parameters<typeof ctx.profiles.has>[0]) => p.applyFailures && ctx.profiles.has(name);
  if (has('missing-id-token')) return undefined;
  const ttl = idTokenTtl(ctx);
  let iat = Math.floor(p.now / 1000);
  if (has('expired-id-token')) iat = iat - 600 - ttl; // so exp lands 10 minutes in the past
  const audience = has('wrong-audience') ? WRONG_AUDIENCE : p.clientId;
  let nonce = p.nonce;
  if (has('nonce-mismatch')) nonce = randomToken(16);
  const payload: JWTPayload = {
    iss: has('wrong-issuer') ? WRONG_ISSUER : (tenantIssuerOf(ctx, p.user) ?? ctx.issuer),
    sub: p.user.sub,
    aud: audience,
    exp: iat + ttl,
    iat,
    auth_time: p.authTime,
    ...(nonce === undefined ? {} : { nonce }),
    azp: audience,
    sid: p.sid,
    ...identityClaims(ctx, p.user, 'id_token', p.viaRefresh, p.scope),
    // Per-test claims of this login session (never protocol claims: those are refused on input).
    ...ctx.claimOverrides.forSession(p.sid, p.now),
  };
  return ctx.keys.sign(payload, { typ: 'JWT', rogue: has('bad-signature') });
}
