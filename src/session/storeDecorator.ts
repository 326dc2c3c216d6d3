import type { SessionRecord } from './record.js';
import type { GetOptions, LoginFlow, SessionCensus, SessionStore, StoreHealth, TakenFlow } from './store.js';

/** The lock as store `S` types it: a Redis store always has one, the port says "maybe". */
type LockOf<S extends SessionStore> = S extends { lock: infer L } ? L : SessionStore['lock'];

/**
 * A store in front of another store: every call goes to `inner` unless a subclass overrides it.
 * The session layer's record authentication and the networked stores' L1 cache are both built on
 * it, so each states only what it changes and a method added to the port is forwarded in one place.
 */
export abstract class StoreDecorator<S extends SessionStore = SessionStore> implements SessionStore {
  readonly kind: string;

  constructor(readonly inner: S) {
    this.kind = inner.kind;
  }

  get events(): SessionStore['events'] {
    return this.inner.events;
  }

  get keepsRecordObjects(): boolean | undefined {
    return this.inner.keepsRecordObjects;
  }

  get shared(): SessionStore['shared'] {
    return this.inner.shared;
  }

  get lock(): LockOf<S> {
    return this.inner.lock as LockOf<S>;
  }

  get(key: string, opts?: GetOptions): Promise<SessionRecord | undefined> {
    return this.inner.get(key, opts);
  }

  put(key: string, rec: SessionRecord, ttlMs: number, expectedVersion: number | null): Promise<boolean> {
    return this.inner.put(key, rec, ttlMs, expectedVersion);
  }

  touch(key: string, lastSeenAt: number, ttlMs: number): Promise<void> {
    return this.inner.touch(key, lastSeenAt, ttlMs);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  deleteMatching(match: { sub?: string; sid?: string }): Promise<number> {
    return this.inner.deleteMatching(match);
  }

  putFlow(state: string, flow: LoginFlow, ttlMs: number, maxPerBrowser: number): Promise<void> {
    return this.inner.putFlow(state, flow, ttlMs, maxPerBrowser);
  }

  takeFlow(state: string, browserId: string): Promise<TakenFlow> {
    return this.inner.takeFlow(state, browserId);
  }

  countHit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    return this.inner.countHit(key, windowMs);
  }

  markOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.inner.markOnce(key, ttlMs);
  }

  health(): StoreHealth {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  census(): Promise<SessionCensus | undefined> {
    return this.inner.census?.() ?? Promise.resolve(undefined);
  }
}
