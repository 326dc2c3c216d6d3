import { EventEmitter } from 'node:events';
import { recordWith, type SessionRecord } from '../session/record.js';
import type {
  GetOptions,
  LoginFlow,
  SessionCensus,
  SessionStore,
  StoreHealth,
  TakenFlow,
} from '../session/store.js';
import type { Clock } from '../util/clock.js';
import { safeEqual } from '../util/crypto.js';
import { BoundedTtlMap } from '../util/lru.js';

/** Rate-limit counters kept at most (one per client per window); beyond it the oldest go. */
const MAX_COUNTERS = 100_000;

export interface MemoryStoreOptions {
  maxSessions: number;
  /**
   * Pending login flows kept at most, across all browsers (`login.maxPendingFlowsTotal`); beyond
   * it the oldest flow is dropped. Browsers' flow lists are bounded the same way.
   */
  maxFlows?: number;
  clock: Clock;
  /** How often expired entries are swept; the timer is unref'd. */
  sweepIntervalMs?: number;
}

/**
 * The embedded default: everything bounded (LRU + TTL), nothing unbounded, one sweeper timer.
 * Records are stored as immutable objects: writers always replace, never mutate.
 */
export class MemoryStore implements SessionStore {
  readonly kind = 'memory';
  /** Records are kept as given: sealed tokens may be binary strings (see the port). */
  readonly keepsRecordObjects = true;
  /** `invalidate` (key) after a write or delete, as the Redis store does for every replica. */
  readonly events = new EventEmitter();
  private readonly sessions: BoundedTtlMap<string, SessionRecord>;
  private readonly flows: BoundedTtlMap<string, LoginFlow>;
  private readonly flowsByBrowser: BoundedTtlMap<string, string[]>;
  private readonly seen: BoundedTtlMap<string, true>;
  private readonly counters: BoundedTtlMap<string, { count: number; resetAt: number }>;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: MemoryStoreOptions) {
    const now = () => opts.clock.now();
    this.now = now;
    this.sessions = new BoundedTtlMap(opts.maxSessions, now);
    const maxFlows = opts.maxFlows ?? 50_000;
    this.flows = new BoundedTtlMap(maxFlows, now);
    this.flowsByBrowser = new BoundedTtlMap(maxFlows, now);
    this.seen = new BoundedTtlMap(100_000, now);
    this.counters = new BoundedTtlMap(MAX_COUNTERS, now);
    this.events.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? 30_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Pending login flows and browsers with a flow list (tests, metrics); both bounded by `maxFlows`. */
  get pendingFlows(): { flows: number; browsers: number } {
    return { flows: this.flows.size, browsers: this.flowsByBrowser.size };
  }

  sweep(): void {
    this.sessions.sweep();
    this.flows.sweep();
    this.flowsByBrowser.sweep();
    this.seen.sweep();
    this.counters.sweep();
  }

  /**
   * Exact: one pass over the live records, at most `maxSessions` in-process field reads (about a
   * millisecond for 100 000), only when metrics are scraped — no I/O and nothing on a request.
   */
  async census(): Promise<SessionCensus> {
    let withRefreshToken = 0;
    let withoutRefreshToken = 0;
    for (const [, rec] of this.sessions.entries()) {
      if (rec.hasRefreshToken) withRefreshToken++;
      else withoutRefreshToken++;
    }
    return { withRefreshToken, withoutRefreshToken, scope: 'all' };
  }

  /** There is no cache in front of this store, so every read is already fresh. */
  async get(key: string, _opts?: GetOptions): Promise<SessionRecord | undefined> {
    return this.sessions.get(key);
  }

  async put(
    key: string,
    rec: SessionRecord,
    ttlMs: number,
    expectedVersion: number | null,
  ): Promise<boolean> {
    const cur = this.sessions.peek(key);
    if (expectedVersion === null ? cur !== undefined : cur?.version !== expectedVersion) return false;
    // A touch since `rec` was read keeps its later lastSeenAt (outside the MAC), as in Redis.
    const touched =
      cur && cur.lastSeenAt > rec.lastSeenAt ? recordWith(rec, { lastSeenAt: cur.lastSeenAt }) : rec;
    this.sessions.set(key, touched, ttlMs);
    this.events.emit('invalidate', key);
    return true;
  }

  async touch(key: string, lastSeenAt: number, ttlMs: number): Promise<void> {
    const cur = this.sessions.peek(key);
    if (!cur) return;
    this.sessions.set(key, lastSeenAt > cur.lastSeenAt ? recordWith(cur, { lastSeenAt }) : cur, ttlMs);
  }

  async delete(key: string): Promise<void> {
    this.sessions.delete(key);
    this.events.emit('invalidate', key);
  }

  async deleteMatching(match: { sub?: string; sid?: string }): Promise<number> {
    if (!match.sub && !match.sid) return 0;
    const doomed: string[] = [];
    for (const [k, rec] of this.sessions.entries()) {
      if ((match.sid && rec.sid === match.sid) || (!match.sid && match.sub && rec.sub === match.sub))
        doomed.push(k);
      else if (match.sid && match.sub && rec.sub === match.sub && rec.sid === undefined) doomed.push(k);
    }
    for (const k of doomed) {
      this.sessions.delete(k);
      this.events.emit('invalidate', k);
    }
    return doomed.length;
  }

  async putFlow(state: string, flow: LoginFlow, ttlMs: number, maxPerBrowser: number): Promise<void> {
    const list = [...(this.flowsByBrowser.peek(flow.browserId) ?? []), state];
    while (list.length > maxPerBrowser) {
      const dropped = list.shift();
      if (dropped) this.flows.delete(dropped);
    }
    this.flowsByBrowser.set(flow.browserId, list, ttlMs);
    this.flows.set(state, flow, ttlMs);
  }

  /** Flows are only ever `peek`ed, never `get`: insertion order stays creation order, so the oldest go first. */
  async takeFlow(state: string, browserId: string): Promise<TakenFlow> {
    const flow = this.flows.peek(state);
    if (!flow) return { ok: false, reason: 'unknown' };
    if (!safeEqual(flow.browserId, browserId)) return { ok: false, reason: 'other_browser' };
    this.flows.delete(state);
    return { ok: true, flow };
  }

  async countHit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const t = this.now();
    const cur = this.counters.peek(key);
    const next = cur ? { count: cur.count + 1, resetAt: cur.resetAt } : { count: 1, resetAt: t + windowMs };
    this.counters.set(key, next, Math.max(1, next.resetAt - t));
    return { count: next.count, resetInMs: Math.max(0, next.resetAt - t) };
  }

  async markOnce(key: string, ttlMs: number): Promise<boolean> {
    if (this.seen.peek(key)) return false;
    this.seen.set(key, true, ttlMs);
    return true;
  }

  health(): StoreHealth {
    return { ok: true };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
