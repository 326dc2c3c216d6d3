// The one hook between the token endpoint and the live console: after a successful grant, note
// the tokens' fingerprints on the request's log entry and add them to their family's timeline.
// The store is asked who the access token belongs to, so no grant has to report it.
import type { ServerResponse } from 'node:http';
import type { IdpContext } from './context.js';
import { fingerprint } from './requestLog.js';

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `params`: the token request's form; `body`: the grant's response, before any shape profile. */
export function feedIssuedTokens(
  ctx: IdpContext,
  res: ServerResponse,
  params: Record<string, string>,
  body: Record<string, unknown>,
): void {
  const accessToken = text(body.access_token);
  if (accessToken === undefined) return;
  const refreshToken = text(body.refresh_token);
  const presented = params.grant_type === 'refresh_token' ? text(params.refresh_token) : undefined;
  const now = ctx.now();
  const grant = ctx.tokens.lookupAccess(accessToken, now);
  ctx.requestLog.note(res, {
    sub: grant?.sub,
    family: grant?.familyId === undefined ? undefined : fingerprint(grant.familyId),
    access: fingerprint(accessToken),
    refresh: refreshToken === undefined ? undefined : fingerprint(refreshToken),
    presented: presented === undefined ? undefined : fingerprint(presented),
  });
  if (grant?.familyId === undefined) return; // client credentials: no family, no session
  const expiresIn = body.expires_in;
  ctx.timelines.issued({
    familyId: grant.familyId,
    sub: grant.sub,
    clientId: grant.clientId,
    sid: grant.sid,
    grantType: params.grant_type ?? '',
    accessToken,
    refreshToken,
    presented,
    at: now,
    expiresAt: typeof expiresIn === 'number' ? now + expiresIn * 1000 : undefined,
  });
}
