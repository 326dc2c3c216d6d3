import type { EventEmitter } from 'node:events';
import type { SessionRecord } from '../session/record.js';

/** A login in progress (one per tab), kept server-side under its `state`. */
export interface LoginFlow {
  /** Random id held by the browser's login cookie; the callback must come from the same browser. */
  browserId: string;
  codeVerifier: string;
  nonce: string;
  /** Where to send the user after login: a same-origin path or an allow-listed absolute URL. */
  returnTo: string;
  createdAt: number;
}

/** `takeFlow`'s answer: the flow (now removed), or why there is none for this browser. */
export type TakenFlow =
  | { ok: true; flow: LoginFlow }
  /** `unknown`: no such pending flow (never issued, expired, evicted or used); `other_browser`: kept. */
  | { ok: false; reason: 'unknown' | 'other_browser' };

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
  /** Resolves when the holder announces completion or after `timeoutMs`, whichever is first. */
  waitForRelease(name: string, timeoutMs: number): Promise<void>;
}

export interface StoreHealth {
  ok: boolean;
  reason?: string;
}

/** Options of `SessionStore.get`. */
export interface GetOptions {
  /**
   * Read the authoritative copy, bypassing any in-process cache (the refresh coordinator's
   * re-reads after taking the lock or after a failed grant must see other replicas' writes).
   */
  fresh?: boolean;
}

export interface SessionStore {
  readonly kind: 'memory' | 'redis';
  get(key: string, opts?: GetOptions): Promise<SessionRecord | undefined>;
  /**
   * Compare-and-set write: succeeds only when the stored version equals `expectedVersion`
   * (`null`: the key must not exist). Returns false on a conflict; the caller re-reads.
   */
  put(key: string, rec: SessionRecord, ttlMs: number, expectedVersion: number | null): Promise<boolean>;
  /** Records activity for the idle timeout without rewriting the record (no version bump). */
  touch(key: string, lastSeenAt: number, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Ends every session of an IdP session id and/or subject (back-channel logout). */
  deleteMatching(match: { sub?: string; sid?: string }): Promise<number>;

  /**
   * Keeps a pending flow: at most `maxPerBrowser` per browser and at most the store's total cap
   * (`login.maxPendingFlowsTotal`) in all, the oldest dropped first beyond either bound.
   */
  putFlow(state: string, flow: LoginFlow, ttlMs: number, maxPerBrowser: number): Promise<void>;
  /**
   * Atomically reads and removes a flow — but only when it was started by `browserId`: a callback
   * from another browser with a leaked state leaves the real user's flow in place. A state can be
   * used once.
   */
  takeFlow(state: string, browserId: string): Promise<TakenFlow>;

  /**
   * Counts one hit on `key` in a fixed window of `windowMs` that starts at the key's first hit;
   * shared by every replica of a distributed store. Returns the count so far (this hit included)
   * and the time until the window ends.
   */
  countHit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;

  /** Marks `key` as seen; false if it already was (replay check for logout token `jti`). */
  markOnce(key: string, ttlMs: number): Promise<boolean>;

  readonly lock?: RefreshLock;
  /**
   * `invalidate` (key, or undefined for every key) once a session was written, touched or deleted
   * — by this replica or, for a distributed store, by any other. Open WebSockets are re-checked on it.
   */
  readonly events: EventEmitter;
  health(): StoreHealth;
  close(): Promise<void>;
}
