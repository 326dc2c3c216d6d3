// Back-channel logout sender (OpenID Connect Back-Channel Logout 1.0): a signed logout token
// POSTed straight to the RP, which must end the matching session without the browser.
import type { RegisteredClient } from './clients.js';
import type { IdpContext } from './context.js';
import { randomToken } from './tokens.js';
import type { BackchannelLogoutResult } from './types.js';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const DELIVERY_TIMEOUT_MS = 5000;

export interface LogoutTarget {
  sub?: string | undefined;
  sid?: string | undefined;
}

/** The session a logout names: the sid given (or the sub's latest), its sub and its client. */
function resolveTarget(
  ctx: IdpContext,
  target: LogoutTarget,
): { sub: string | undefined; sid: string | undefined; client: RegisteredClient } {
  const now = ctx.now();
  const sid = target.sid ?? (target.sub === undefined ? undefined : ctx.sessions.latestSid(target.sub, now));
  const sub = target.sub ?? (target.sid === undefined ? undefined : ctx.sessions.subOf(target.sid, now));
  // The client the session was logged in for; a sid the IdP does not know goes to the default.
  const clientId = sid === undefined ? undefined : ctx.sessions.clientOf(sid, now);
  const client =
    (clientId === undefined ? undefined : ctx.clients.find(clientId)) ?? ctx.clients.defaultClient;
  return { sub, sid, client };
}

/** The logout token for one session of `aud`'s. */
async function signLogoutToken(
  ctx: IdpContext,
  aud: string,
  sub: string | undefined,
  sid: string | undefined,
): Promise<string> {
  const iat = Math.floor(ctx.now() / 1000);
  return ctx.keys.sign(
    {
      iss: ctx.issuer,
      aud,
      iat,
      exp: iat + 120,
      jti: randomToken(16),
      ...(sub === undefined ? {} : { sub }),
      ...(sid === undefined ? {} : { sid }),
      events: { [BACKCHANNEL_EVENT]: {} },
    },
    { typ: 'logout+jwt' },
  );
}

/**
 * Tells the client the session was logged in for (its registered backchannel_logout_uri) that
 * the session ended.
 */
export async function sendBackchannelLogout(
  ctx: IdpContext,
  target: LogoutTarget,
): Promise<BackchannelLogoutResult> {
  if (!target.sub && !target.sid) throw new Error('back-channel logout needs a sub or a sid');
  const { sub, sid, client } = resolveTarget(ctx, target);
  const uri = client.backchannelLogoutUri;
  if (uri === undefined) {
    ctx.log(`dev-idp: back-channel logout requested but client "${client.id}" has no backchannel logout URI`);
    return { delivered: false };
  }
  const token = await signLogoutToken(ctx, client.id, sub, sid);
  // The IdP session is over once its RPs are told; a later sub-only logout names no stale sid.
  if (sid !== undefined) ctx.sessions.end(sid, ctx.now());
  const { signal, done } = ctx.lifecycle.abortable(DELIVERY_TIMEOUT_MS);
  try {
    const res = await fetch(uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      // The spec forbids following redirects for back-channel requests.
      redirect: 'manual',
      signal,
    });
    await res.arrayBuffer().catch(() => undefined); // drain so the socket is reusable
    return { delivered: res.status >= 200 && res.status < 300, status: res.status };
  } catch (err) {
    ctx.log(`dev-idp: back-channel logout to ${uri} failed: ${(err as Error).message}`);
    return { delivered: false };
  } finally {
    done();
  }
}
