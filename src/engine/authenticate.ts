import { refreshAction, withinOutageGrace } from '../refresh/policy.js';
import type { SessionRecord } from '../session/record.js';
import type { EngineContext } from './context.js';
import { clearCookie, readCookie } from './cookies.js';
import type { Answer } from './decision.js';
import { isNavigation, type RequestFacts } from './facts.js';
import { beginLogin } from './login.js';

export type Authenticated = { ok: true; key: string; record: SessionRecord; setCookies: string[] };

/**
 * Session lookup + refresh. Hot path for a fresh session: one HMAC check, one store read, no JWT
 * parsing, no IdP call. Stale sessions are refreshed through the single-flight coordinator.
 */
export async function authenticate(ctx: EngineContext, f: RequestFacts): Promise<Authenticated | Answer> {
  const jar = ctx.jar;
  const raw = readCookie(f.cookieHeader, jar.session);
  const key = ctx.sessions.codec.open(raw);
  if (!key) {
    // A cookie that fails the tag check is cleared so the browser stops sending it.
    return unauthenticated(
      ctx,
      f,
      raw ? [clearCookie(jar, jar.session)] : [],
      raw ? 'bad_cookie' : 'no_session',
    );
  }
  let rec = await ctx.sessions.store.get(key);
  const now = ctx.clock.now();
  if (!rec) return unauthenticated(ctx, f, [clearCookie(jar, jar.session)], 'session_expired');
  if (ctx.sessions.expired(rec, now)) {
    await ctx.sessions.store.delete(key);
    return unauthenticated(ctx, f, [clearCookie(jar, jar.session)], 'session_expired');
  }

  switch (refreshAction(rec, now, ctx.refreshSettings)) {
    case 'fresh':
      break;
    case 'background':
      ctx.refresh.refreshInBackground(key, rec);
      break;
    case 'backoff-serve':
      break;
    case 'backoff-fail':
      return unavailable(rec.refreshRetryAt ? Math.ceil((rec.refreshRetryAt - now) / 1000) : 5);
    case 'end':
      await ctx.sessions.store.delete(key);
      return unauthenticated(ctx, f, [clearCookie(jar, jar.session)], 'session_expired');
    case 'blocking': {
      const out = await ctx.refresh.refresh(key, rec);
      if (out.kind === 'ok') {
        rec = out.record;
      } else if (out.kind === 'terminal') {
        return unauthenticated(ctx, f, [clearCookie(jar, jar.session)], 'session_expired');
      } else if (!withinOutageGrace(rec, ctx.clock.now(), ctx.refreshSettings)) {
        return unavailable(out.retryAfterSec);
      }
      // transient within the outage grace: keep serving the identity we have.
      break;
    }
  }
  maybeTouch(ctx, key, rec, now);
  return { ok: true, key, record: rec, setCookies: [] };
}

/**
 * Idle-timeout bookkeeping without rewriting the session on every request: at most one touch per
 * tenth of the idle timeout (capped at a minute), fire-and-forget.
 */
function maybeTouch(ctx: EngineContext, key: string, rec: SessionRecord, now: number): void {
  const idle = ctx.sessions.idleTimeoutMs;
  if (idle <= 0) return;
  if (now - rec.lastSeenAt < Math.min(60_000, idle / 10)) return;
  const ttl = ctx.sessions.ttl({ ...rec, lastSeenAt: now });
  ctx.sessions.store
    .touch(key, now, ttl)
    .catch((err) => ctx.logger.warn({ err: String(err) }, 'session touch failed'));
}

function unavailable(retryAfterSec: number): Answer {
  return {
    type: 'error',
    status: 503,
    code: 'provider_unavailable',
    reason:
      'The sign-in service is temporarily unavailable, so your session cannot be renewed. Please retry shortly.',
    setCookies: [],
    retryAfterSec: Math.max(1, retryAfterSec),
  };
}

/** Not logged in: navigations go to the IdP, everything else gets 401 JSON with a challenge. */
export async function unauthenticated(
  ctx: EngineContext,
  f: RequestFacts,
  setCookies: string[],
  code: 'no_session' | 'bad_cookie' | 'session_expired',
): Promise<Answer> {
  if (isNavigation(f)) {
    const d = await beginLogin(ctx, f, f.url, false);
    return { ...d, setCookies: [...setCookies, ...d.setCookies] };
  }
  const reason =
    code === 'session_expired'
      ? 'Your session has expired. Sign in again.'
      : code === 'bad_cookie'
        ? 'The session cookie is not valid. Sign in again.'
        : 'Authentication required.';
  return {
    type: 'error',
    status: 401,
    code,
    reason,
    setCookies,
    challenge: true,
    signInUrl: `/oauth2/start?rd=${encodeURIComponent(f.url)}`,
  };
}
