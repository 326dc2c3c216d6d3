import type { Identity } from '../identity/identity.js';

/**
 * What the store holds for one session. Everything the hot path needs (identity, expiry) is
 * plain and precomputed; tokens are sealed and only opened to refresh or to forward them.
 * Every field but `lastSeenAt` is covered by `mac` (see RecordMac), bound to the store key.
 */
export interface SessionRecord {
  /** Incremented on every write; writes are compare-and-set on it. */
  version: number;
  sub: string;
  /** The IdP's session id (`sid`), for back-channel logout. */
  sid?: string;
  identity: Identity;
  /**
   * The claims the configured header templates read (`headers.templates`, their top-level claim
   * names only), from the claims the identity was built from; absent when no template reads a
   * claim. Covered by `mac` like the identity.
   */
  claims?: Record<string, unknown>;
  /**
   * The sealed TokenSet (TokenSealer.sealTokens: AES-256-GCM, the store key as associated data):
   * `v3` text, or in the memory store v3's one-byte binary form; `v2` (sealed JSON) in records
   * written before v3.
   */
  tokens: string;
  hasRefreshToken: boolean;
  /** When the access token expires (ms since epoch). */
  accessExpiresAt: number;
  /** Lifetime of the current access token, to cap the refresh grace window. */
  accessLifetimeMs: number;
  /** When the current refresh token was obtained (login, or a rotation). */
  refreshIssuedAt: number;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end of the session (createdAt + maxAge). */
  expiresAt: number;
  /** The scopes the provider granted (TokenResult.scopes), for `requiredScopes`; absent on older records (no scope then). */
  scopes?: string[];
  /** Set after a transient refresh failure: no new attempt before this time. */
  refreshRetryAt?: number;
  /**
   * When this session last tried to obtain a refresh token: its sign-in (when none came) or a
   * silent re-authorization (prompt=none), set before the redirect. At most one attempt per
   * `refresh.silentUpgradeIntervalSeconds`, so never a loop.
   */
  silentUpgradeTriedAt?: number;
  /**
   * HMAC over the record (all but `lastSeenAt`) and its store key, set by the session layer on
   * every write; a record without a valid one is treated as no session.
   */
  mac?: string;
}

/**
 * A copy of `rec` with `changes` (`rec` is left as it is). `Object.assign`, never `{ ...rec }`:
 * V8 gives every spread copy of a record a hidden class of its own (a map and a descriptor
 * array, ~550 bytes per stored session in `npm run bench:memory`), assigned copies share one.
 */
export function recordWith(rec: SessionRecord, changes: Partial<SessionRecord>): SessionRecord {
  return Object.assign({}, rec, changes);
}

/** Store TTL: the record must live until the later of its absolute end and, with idle timeout, idle end. */
export function recordTtlMs(rec: SessionRecord, now: number, idleTimeoutMs: number): number {
  const absolute = rec.expiresAt - now;
  if (idleTimeoutMs > 0) return Math.max(1, Math.min(absolute, rec.lastSeenAt + idleTimeoutMs - now));
  return Math.max(1, absolute);
}
