import { randomBytes } from 'node:crypto';
import type { RefreshLock } from '../../session/store.js';
import type { RedisKeys } from './keys.js';
import type { ScriptedClient } from './scripts.js';

/** Registered waiters across all lock names; beyond it a waiter polls (with backoff) instead. */
const MAX_WAITERS = 10_000;

export interface LockDeps {
  client: ScriptedClient;
  keys: RedisKeys;
  /** True while the shared subscriber is subscribed: only then can a release message reach us. */
  subscriberLive: () => boolean;
  /** Wraps a Redis call: failures become `store_unavailable`. */
  call: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Cross-replica refresh lease (DESIGN §4): `SET lock token NX PX lease`; release is a
 * compare-and-delete script that also PUBLISHes the lock name; waiters resume on that message
 * (one shared subscriber connection per store) or when the lease runs out, whichever is first.
 */
export class RedisRefreshLock implements RefreshLock {
  private readonly waiters = new Map<string, Set<() => void>>();
  private registered = 0;
  private closed = false;

  constructor(private readonly d: LockDeps) {}

  async acquire(name: string, leaseMs: number): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const ok = await this.d.call(() =>
      this.d.client.set(this.d.keys.lock(name), token, 'PX', Math.max(1, Math.ceil(leaseMs)), 'NX'),
    );
    return ok === 'OK' ? token : undefined;
  }

  async renew(name: string, token: string, leaseMs: number): Promise<boolean> {
    const n = await this.d.call(() =>
      this.d.client.ghRenew(this.d.keys.lock(name), token, Math.max(1, Math.ceil(leaseMs))),
    );
    return n === 1;
  }

  async release(name: string, token: string): Promise<void> {
    await this.d.call(() =>
      this.d.client.ghRelease(this.d.keys.lock(name), token, this.d.keys.releasedChannel, name),
    );
  }

  /**
   * Resolves on the holder's release message, or when the lease can have run out (its PTTL, read
   * right after registering — which also closes the race with a release that happened before we
   * started listening), or after `timeoutMs`. Never rejects: the caller re-reads either way.
   */
  waitForRelease(name: string, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.d.subscriberLive() || this.registered >= MAX_WAITERS) return this.poll(name, timeoutMs);
    return new Promise<void>((resolve) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const set = this.waiters.get(name);
        if (set?.delete(finish)) {
          this.registered--;
          if (!set.size) this.waiters.delete(name);
        }
        resolve();
      };
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(finish, Math.max(0, ms));
        timer.unref();
      };
      arm(timeoutMs);
      let set = this.waiters.get(name);
      if (!set) {
        set = new Set();
        this.waiters.set(name, set);
      }
      set.add(finish);
      this.registered++;
      this.d.client.pttl(this.d.keys.lock(name)).then(
        (ttl) => {
          if (ttl === -2) finish();
          // Holder gone without releasing (killed)? Wake when its lease ends, not at the timeout.
          else if (ttl >= 0 && ttl + 5 < timeoutMs && !done) arm(ttl + 5);
        },
        () => undefined, // Redis unreachable: the timer still bounds the wait
      );
    });
  }

  /** Called by the store's subscriber for every message on the release channel. */
  onReleased(name: string): void {
    const set = this.waiters.get(name);
    if (!set) return;
    for (const finish of [...set]) finish();
  }

  get waiting(): number {
    return this.registered;
  }

  /** Wakes everybody (store closing). */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const finish of [...set]) finish();
  }

  /** Fallback without pub/sub: PTTL with exponential backoff (25 ms → 1 s), bounded by the timeout. */
  private async poll(name: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let delay = 25;
    while (!this.closed) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      let ttl = -1;
      try {
        ttl = await this.d.client.pttl(this.d.keys.lock(name));
      } catch {
        // unreachable: keep waiting out the backoff
      }
      if (ttl === -2) return;
      const wait = Math.min(delay, left, ttl > 0 ? ttl + 5 : delay);
      await new Promise((r) => setTimeout(r, wait).unref());
      delay = Math.min(delay * 2, 1000);
    }
  }
}
