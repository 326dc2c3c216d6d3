import type { EngineContext } from './context.js';
import type { Principal } from './credentials/credentialLoader.js';
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
  const rec = session.record;
  const now = ctx.clock.now();
  const marked = { ...rec, version: rec.version + 1, silentUpgradeTriedAt: now };
  // Compare-and-set: of concurrent navigations only the one that marks the record redirects.
  const ok = await ctx.sessions.store.put(session.key, marked, ctx.sessions.ttl(marked), rec.version);
  if (!ok) return undefined;
  const d = await beginLogin(ctx, f, f.url, false, { silent: true });
  // Rate-limited or a sign-in loop: serve the request with the session it has.
  if (d.type !== 'redirect') return undefined;
  ctx.logger.info(
    { reqId: f.requestId, session: session.key.slice(0, 12) },
    'session without a refresh token: silent re-authorization (prompt=none) to obtain one',
  );
  return d;
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
