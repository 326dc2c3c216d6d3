import type { SessionRecord } from '../session/record.js';

export interface RefreshSettings {
  graceMs: number;
  graceMaxFraction: number;
  outageGraceMs: number;
  /** 0 = unlimited */
  maxRefreshTokenAgeMs: number;
}

/**
 * What a request should do about token freshness. Pure: a function of the record and the time,
 * so it is unit-tested with plain numbers.
 * - `fresh`: serve.
 * - `background`: inside the grace window before expiry — serve now, refresh behind the request.
 * - `blocking`: expired — wait for the refresh, then serve with the new identity.
 * - `backoff-serve`: a recent transient failure; serve the still-acceptable session without a new attempt.
 * - `backoff-fail`: a recent transient failure and past the outage grace: 503.
 * - `end`: the session cannot be renewed (no refresh token, or the refresh token is too old).
 */
export type RefreshAction = 'fresh' | 'background' | 'blocking' | 'backoff-serve' | 'backoff-fail' | 'end';

/** The grace window, capped at a fraction of the token lifetime so short tokens are not refreshed constantly. */
export function graceWindowMs(rec: SessionRecord, s: RefreshSettings): number {
  return Math.max(0, Math.min(s.graceMs, rec.accessLifetimeMs * s.graceMaxFraction));
}

export function refreshAction(rec: SessionRecord, now: number, s: RefreshSettings): RefreshAction {
  const expiresAt = rec.accessExpiresAt;
  if (now < expiresAt - graceWindowMs(rec, s)) return 'fresh';
  const expired = now >= expiresAt;
  const tooOld = s.maxRefreshTokenAgeMs > 0 && now - rec.refreshIssuedAt >= s.maxRefreshTokenAgeMs;
  if (!rec.hasRefreshToken || tooOld) return expired ? 'end' : 'fresh';
  if (rec.refreshRetryAt !== undefined && now < rec.refreshRetryAt) {
    if (!expired) return 'fresh';
    return withinOutageGrace(rec, now, s) ? 'backoff-serve' : 'backoff-fail';
  }
  return expired ? 'blocking' : 'background';
}

/** During an IdP outage a session may be served this long past its token's expiry. */
export function withinOutageGrace(rec: SessionRecord, now: number, s: RefreshSettings): boolean {
  return now < rec.accessExpiresAt + s.outageGraceMs;
}
