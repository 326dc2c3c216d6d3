import type { SessionRecord } from '../session/record.js';
import type { SilentReason } from '../session/store.js';
import { describeCause } from '../util/errors.js';
import type { EngineContext } from './context.js';
import { clearCookie } from './cookies.js';
import type { Principal, SessionRef } from './credentials/credentialLoader.js';
import type { Answer } from './decision.js';
import { isNavigation, type RequestFacts } from './facts.js';
import { beginLogin } from './login.js';

/**
 * Sessions that upgrade themselves: a session signed in without a refresh token (before offline
 * access was asked for, or under another preset) while the plan now expects one is sent, on its
 * next top-level navigation, through one silent re-authorization (`prompt=none`, back to the same
 * URL). Enabling refresh tokens then needs no mass log-out.
 *
 * The record is marked *before* the redirect (`silentUpgradeTriedAt`), so a session gets one
 * attempt per `refresh.silentUpgradeIntervalSeconds` whatever the IdP answers: a declined attempt
 * lands on the original URL with the old session (completeLogin), and the next navigation is
 * served normally — never a loop. A sign-in that brought no refresh token marks its new session
 * too (SessionService.create), so a provider that never issues one costs no immediate second
 * round trip. API calls never redirect (a fetch cannot follow a cross-site sign-in).
 *
 * Returns the redirect, or undefined to serve the request as it is.
 */
export async function silentUpgrade(
  ctx: EngineContext,
  f: RequestFacts,
  principal: Principal,
): Promise<Answer | undefined> {
  const session = principal.session;
  if (!session || !wantsSilentUpgrade(ctx, f, principal)) return undefined;
  const d = await markAndRedirect(ctx, f, session, f.url, 'upgrade');
  if (!d) return undefined;
  ctx.logger.info(
    { reqId: f.requestId, session: session.key.slice(0, 12) },
    'session without a refresh token: silent re-authorization (prompt=none) to obtain one',
  );
  return d;
}

/**
 * A session whose access token expired without a refresh token (SessionCookieLoader kept it, see
 * `silentReauthDue`), on a navigation: one silent re-authorization back to `returnTo` before any
 * login page. The IdP's SSO session signs a new one in without the user; any other answer starts
 * the normal interactive sign-in at once (completeLogin). The expired session ends with the redirect.
 *
 * Returns the redirect, or undefined when no attempt was started (another navigation marked the
 * record first, rate limit, sign-in loop): the caller then ends the session and signs in normally.
 */
export async function reauthorizeExpired(
  ctx: EngineContext,
  f: RequestFacts,
  session: SessionRef,
  returnTo: string,
): Promise<Answer | undefined> {
  const d = await markAndRedirect(ctx, f, session, returnTo, 'expired');
  if (!d) return undefined;
  ctx.logger.info(
    { reqId: f.requestId, session: session.key.slice(0, 12) },
    'session expired without a refresh token: silent re-authorization (prompt=none) before the login page',
  );
  // Whatever the IdP answers, this session is over: the attempt signs in a new one. Ending it
  // now (record and cookie) also leaves nothing a second attempt could start from.
  return { ...d, setCookies: [...(await endExpired(ctx, session)), ...d.setCookies] };
}

/**
 * An expired session that was kept for a silent attempt but gets none (an API call, a
 * navigation that did not get to try): it ends now, and its cookie goes with the answer.
 */
export async function endExpired(ctx: EngineContext, session: SessionRef): Promise<string[]> {
  await ctx.sessions.store
    .delete(session.key)
    .catch((err) => ctx.logger.warn({ err: describeCause(err) }, 'deleting an expired session failed'));
  return [clearCookie(ctx.jar, ctx.jar.session)];
}

/**
 * Marks the record *before* the redirect, by compare-and-set: of concurrent navigations only the
 * one that marks it redirects, and whatever the IdP answers the next attempt waits out the interval.
 */
async function markAndRedirect(
  ctx: EngineContext,
  f: RequestFacts,
  session: SessionRef,
  returnTo: string,
  reason: SilentReason,
): Promise<Answer | undefined> {
  const rec = session.record;
  const marked = { ...rec, version: rec.version + 1, silentUpgradeTriedAt: ctx.clock.now() };
  const ok = await ctx.sessions.store.put(session.key, marked, ctx.sessions.ttl(marked), rec.version);
  if (!ok) return undefined;
  const d = await beginLogin(ctx, f, returnTo, false, { silent: reason });
  // Rate-limited or a sign-in loop: no silent attempt.
  return d.type === 'redirect' ? d : undefined;
}

/**
 * May this session, whose access token expired without a refresh token, try a silent
 * re-authorization? At most one attempt per `refresh.silentUpgradeIntervalSeconds`. The mark a
 * sign-in without a refresh token leaves (`silentUpgradeTriedAt === createdAt`, SessionService
 * .create) is not an attempt here: it only spares the *upgrade* a round trip, and counting it
 * would block renewal whenever access tokens live shorter than the interval (the default 600 s
 * against a 300 s token). A session renewed this way is a new one carrying that mark, so a token
 * that expires again comes back here once per token lifetime, never in a tight loop; and the
 * login cookie's `login.maxAttempts` still stops sign-ins that do not stick.
 */
export function silentReauthDue(ctx: EngineContext, rec: SessionRecord, now: number): boolean {
  if (!ctx.cfg.refresh.silentUpgrade) return false;
  const tried = rec.silentUpgradeTriedAt;
  if (tried === undefined || tried <= rec.createdAt) return true;
  return now - tried >= ctx.cfg.refresh.silentUpgradeIntervalSeconds * 1000;
}

/**
 * Synchronous, so the hot path (a session with a refresh token, or an API call) pays a few field
 * reads and no extra promise: only a session that is due gets the async part above.
 */
export function wantsSilentUpgrade(ctx: EngineContext, f: RequestFacts, principal: Principal): boolean {
  const rec = principal.session?.record;
  if (!rec || rec.hasRefreshToken || !ctx.cfg.refresh.silentUpgrade) return false;
  if (!isNavigation(f) || !ctx.provider.expectsRefreshToken) return false;
  const intervalMs = ctx.cfg.refresh.silentUpgradeIntervalSeconds * 1000;
  return rec.silentUpgradeTriedAt === undefined || ctx.clock.now() - rec.silentUpgradeTriedAt >= intervalMs;
}
