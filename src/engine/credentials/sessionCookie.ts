import { refreshAction, withinOutageGrace } from '../../refresh/policy.js';
import type { SessionRecord } from '../../session/record.js';
import type { EngineContext } from '../context.js';
import { clearCookie, readCookie } from '../cookies.js';
import type { RequestFacts } from '../facts.js';
import { silentReauthDue } from '../silentUpgrade.js';
import {
  type CredentialLoader,
  type CredentialResult,
  NO_CREDENTIAL,
  type Refused,
} from './credentialLoader.js';

/**
 * The session cookie: session lookup + refresh. Hot path for a fresh session: one HMAC check, one
 * store read, no JWT parsing, no IdP call. Stale sessions are refreshed through the single-flight
 * coordinator. A browser gets this credential by signing in, so it signs in again by redirect.
 */
export class SessionCookieLoader implements CredentialLoader {
  readonly signsInByRedirect = true;

  constructor(private readonly ctx: EngineContext) {}

  async load(f: RequestFacts): Promise<CredentialResult> {
    const ctx = this.ctx;
    const jar = ctx.jar;
    const raw = readCookie(f.cookieHeader, jar.session);
    const key = ctx.sessions.codec.open(raw);
    if (!key) {
      // A cookie that fails the tag check is cleared so the browser stops sending it.
      return raw ? refused(ctx, 'bad_cookie') : NO_CREDENTIAL;
    }
    let rec = await ctx.sessions.store.get(key);
    const now = ctx.clock.now();
    if (!rec) return refused(ctx, 'session_expired');
    if (ctx.sessions.expired(rec, now)) {
      await ctx.sessions.store.delete(key);
      return refused(ctx, 'session_expired');
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
        return {
          kind: 'unavailable',
          retryAfterSec: rec.refreshRetryAt ? Math.ceil((rec.refreshRetryAt - now) / 1000) : 5,
        };
      case 'end':
        // Expired without a refresh token: a navigation may renew it silently (prompt=none), so
        // record and cookie stay until one tries (or does not); authenticate.ts decides.
        if (!rec.hasRefreshToken && silentReauthDue(ctx, rec, now)) {
          return { kind: 'refused', code: 'session_expired', setCookies: [], expired: { key, record: rec } };
        }
        await ctx.sessions.store.delete(key);
        return refused(ctx, 'session_expired');
      case 'blocking': {
        const out = await ctx.refresh.refresh(key, rec);
        if (out.kind === 'ok') {
          rec = out.record;
        } else if (out.kind === 'terminal') {
          return refused(ctx, 'session_expired');
        } else if (!withinOutageGrace(rec, ctx.clock.now(), ctx.refreshSettings)) {
          return { kind: 'unavailable', retryAfterSec: out.retryAfterSec };
        }
        // transient within the outage grace: keep serving the identity we have.
        break;
      }
    }
    maybeTouch(ctx, key, rec, now);
    return {
      kind: 'authenticated',
      identity: rec.identity,
      expiresAt: rec.expiresAt,
      session: { key, record: rec },
      setCookies: [],
      scopes: rec.scopes ?? NO_SCOPES,
    };
  }
}

const NO_SCOPES: readonly string[] = [];

/** The session is gone or the cookie is not ours: the cookie is cleared with the answer. */
function refused(ctx: EngineContext, code: Refused['code']): Refused {
  return { kind: 'refused', code, setCookies: [clearCookie(ctx.jar, ctx.jar.session)] };
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
