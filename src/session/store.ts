import type { EventEmitter } from 'node:events';
import type { SessionRecord } from './record.js';

/**
 * The store port: what the session layer (and, through it, the engine, login, logout and the
 * refresh coordinator) needs from wherever sessions live. It is owned here, by its user, so a
 * store implementation (src/store/) depends on the session layer and never the other way round.
 * Every implementation must pass the contract suite in test/store/contract.ts: the promises
 * written on this page are the ones it checks.
 *
 * Stores are dumb: they keep what they are given (records, flows, counters) and never judge it;
 * records are signed and verified by the session layer (`AuthenticatedStore`).
 */
export interface SessionStore extends SessionRecords, LoginFlows, Counters {
  /** Which implementation this is (`memory`, `redis`, …), for logs and tests; decorators pass it through. */
  readonly kind: string;
  /** Cross-replica lease for refresh: only distributed stores have one (see `RefreshLock`). */
  readonly lock?: RefreshLock;
  /**
   * Small values every replica shares and that outlive sessions (the dynamically registered
   * client): only distributed stores have them, next to their `lock`.
   */
  readonly shared?: SharedValues;
  /**
   * Emits `invalidate` (a session key, or undefined for "any session may have changed") once a
   * session was written or deleted — by this replica at once, and for a distributed store by any
   * other replica too (it also announces touches). Open WebSockets are re-checked on it.
   * A distributed store may emit other events besides (e.g. connection `state`).
   */
  readonly events: EventEmitter;
  /**
   * True when records stay the very objects given to `put`, in this process, never serialised
   * (the memory store): the session layer then keeps sealed tokens as one-byte binary strings
   * (TokenSealer's binary form), 1 byte per byte instead of base64url's 4 characters per 3.
   * Absent: records may be serialised (Redis keeps JSON), sealed tokens stay text.
   */
  readonly keepsRecordObjects?: boolean;
  /** Whether requests can be served now (readiness); never throws. */
  health(): StoreHealth;
  /**
   * The live session records, with and without a refresh token, for the `gatehouse_sessions`
   * gauge. Called when metrics are scraped, never on a request; bounded work by contract (see
   * `SessionCensus.scope`). A store that cannot count cheaply answers undefined (no series).
   */
  census?(): Promise<SessionCensus | undefined>;
  /** Releases connections and timers; idempotent. */
  close(): Promise<void>;
}

/** What `SessionStore.census` counted. */
export interface SessionCensus {
  withRefreshToken: number;
  withoutRefreshToken: number;
  /**
   * `all`: every live record of the store (the memory store: this replica's sessions, exact);
   * `sample`: a bounded sample of a shared store (its ratio is the store's; its totals are not).
   */
  scope: 'all' | 'sample';
}

/** Session records by store key (a hash of the session id: the store never sees a cookie). */
export interface SessionRecords {
  /** The record as its writer serialised it (field order included: the MAC is over those bytes). */
  get(key: string, opts?: GetOptions): Promise<SessionRecord | undefined>;
  /**
   * Compare-and-set write: succeeds only when the stored version equals `expectedVersion`
   * (`null`: the key must not exist). Returns false on a conflict and writes nothing; the caller
   * re-reads. Of concurrent writers from one version, exactly one wins. The record lives `ttlMs`,
   * and keeps the later `lastSeenAt` of itself and a touch that came in since it was read.
   */
  put(key: string, rec: SessionRecord, ttlMs: number, expectedVersion: number | null): Promise<boolean>;
  /**
   * Records activity for the idle timeout without rewriting the record (no version bump) and lets
   * it live `ttlMs` from now. `lastSeenAt` never moves back; a missing record is not created.
   */
  touch(key: string, lastSeenAt: number, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Back-channel logout: with a `sid`, ends that IdP session's sessions plus (when `sub` is given
   * too) the subject's sessions that have no sid; with only a `sub`, all the subject's sessions;
   * with neither, nothing. Returns how many ended.
   */
  deleteMatching(match: { sub?: string; sid?: string }): Promise<number>;
}

/** Options of `SessionRecords.get`. */
export interface GetOptions {
  /**
   * Read the authoritative copy, bypassing any in-process cache (the refresh coordinator's
   * re-reads after taking the lock or after a failed grant must see other replicas' writes).
   */
  fresh?: boolean;
}

/** Pending logins, one per tab, kept server-side under their `state`. */
export interface LoginFlows {
  /**
   * Keeps a pending flow for `ttlMs`: at most `maxPerBrowser` per browser and at most the store's
   * total cap (`login.maxPendingFlowsTotal`) in all, the oldest dropped first beyond either bound.
   */
  putFlow(state: string, flow: LoginFlow, ttlMs: number, maxPerBrowser: number): Promise<void>;
  /**
   * Atomically reads and removes a flow — but only when it was started by `browserId`: a callback
   * from another browser with a leaked state leaves the real user's flow in place. A state can be
   * used once: of concurrent takes, exactly one gets the flow.
   */
  takeFlow(state: string, browserId: string): Promise<TakenFlow>;
}

/** A login in progress (one per tab), kept server-side under its `state`. */
export interface LoginFlow {
  /** Random id held by the browser's login cookie; the callback must come from the same browser. */
  browserId: string;
  codeVerifier: string;
  nonce: string;
  /** Where to send the user after login: a same-origin path or an allow-listed absolute URL. */
  returnTo: string;
  createdAt: number;
  /**
   * A silent re-authorization (prompt=none) for an existing session, and why
   * (engine/silentUpgrade.ts): `upgrade` (a live session without a refresh token) — an error
   * answer sends the user back to `returnTo` with the session they have instead of an error page;
   * `expired` (its access token expired and it has no refresh token) — an error answer starts the
   * normal interactive sign-in at once.
   */
  silent?: SilentReason;
  /**
   * The hash of a route host's bind cookie (engine/handoff.ts): after sign-in the browser goes to
   * that host with a ticket bound to it, instead of straight to `returnTo`.
   */
  bind?: string;
}

/** Why a session is silently re-authorized: to obtain a refresh token, or because it expired without one. */
export type SilentReason = 'upgrade' | 'expired';

/** `takeFlow`'s answer: the flow (now removed), or why there is none for this browser. */
export type TakenFlow =
  | { ok: true; flow: LoginFlow }
  /** `unknown`: no such pending flow (never issued, expired, evicted or used); `other_browser`: kept. */
  | { ok: false; reason: 'unknown' | 'other_browser' };

/** Small shared counters: rate limits and replay checks, one view across every replica. */
export interface Counters {
  /**
   * Counts one hit on `key` in a fixed window of `windowMs` that starts at the key's first hit.
   * Returns the count so far (this hit included) and the time until the window ends.
   */
  countHit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  /** Marks `key` as seen for `ttlMs`; false if it already was (replay check for logout token `jti`). */
  markOnce(key: string, ttlMs: number): Promise<boolean>;
}

/**
 * Lease-based mutual exclusion across replicas for refresh. Only distributed stores have one;
 * within a replica the refresh coordinator's single-flight map already serialises.
 */
export interface RefreshLock {
  /** Returns a lease token when acquired, undefined when someone else holds it. */
  acquire(name: string, leaseMs: number): Promise<string | undefined>;
  /** Extends the lease to `leaseMs` from now, only if `token` still owns it; false when it does not. */
  renew(name: string, token: string, leaseMs: number): Promise<boolean>;
  /** Releases only if `token` still owns the lease. */
  release(name: string, token: string): Promise<void>;
  /**
   * Resolves when the holder releases, when the lease runs out, or after `timeoutMs`, whichever
   * is first. Never rejects: the caller re-reads either way.
   */
  waitForRelease(name: string, timeoutMs: number): Promise<void>;
}

/** Named values shared by every replica, without expiry; the caller seals what is secret. */
export interface SharedValues {
  get(name: string): Promise<string | undefined>;
  put(name: string, value: string): Promise<void>;
}

export interface StoreHealth {
  ok: boolean;
  reason?: string;
}
