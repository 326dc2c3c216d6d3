// Back-channel logout sender (OpenID Connect Back-Channel Logout 1.0): a signed logout token
// POSTed straight to the RP, which must end the matching session without the browser.
import type { IdpContext } from './context.js';
import { randomToken } from './tokens.js';
import type { BackchannelLogoutResult } from './types.js';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const DELIVERY_TIMEOUT_MS = 5000;

export interface LogoutTarget {
  sub?: string | undefined;
  sid?: string | undefined;
}

/** Builds the logout token; fills in the sid (latest of the sub) or the sub (owner of the sid). */
export async function logoutToken(ctx: IdpContext, target: LogoutTarget): Promise<string> {
  const now = ctx.now();
  const sid = target.sid ?? (target.sub === undefined ? undefined : ctx.sessions.latestSid(target.sub, now));
  const sub = target.sub ?? (target.sid === undefined ? undefined : ctx.sessions.subOf(target.sid, now));
  const iat = Math.floor(now / 1000);
  return ctx.keys.sign(
    {
      iss: ctx.issuer,
      aud: ctx.options.clientId,
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

export async function sendBackchannelLogout(
  ctx: IdpContext,
  target: LogoutTarget,
): Promise<BackchannelLogoutResult> {
  if (!target.sub && !target.sid) throw new Error('back-channel logout needs a sub or a sid');
  const uri = ctx.options.backchannelLogoutUri;
  if (uri === undefined) {
    ctx.log('dev-idp: back-channel logout requested but no backchannelLogoutUri is configured');
    return { delivered: false };
  }
  const token = await logoutToken(ctx, target);
  // The IdP session is over once its RPs are told; a later sub-only logout names no stale sid.
  if (target.sid) ctx.sessions.end(target.sid, ctx.now());
  else if (target.sub) {
    const sid = ctx.sessions.latestSid(target.sub, ctx.now());
    if (sid !== undefined) ctx.sessions.end(sid, ctx.now());
  }
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
