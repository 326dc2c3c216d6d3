import { EventEmitter } from 'node:events';
import type { SessionRecord } from '../session/record.js';
import type { GetOptions, SessionStore } from '../session/store.js';
import { StoreDecorator } from '../session/storeDecorator.js';
import { BoundedTtlMap } from '../util/lru.js';
import type { InvalidationBus } from './invalidationBus.js';

/** Entries at most: a few seconds' window of active sessions, not the whole population. */
const DEFAULT_MAX_ENTRIES = 10_000;

export interface CachedStoreOptions {
  /** How long a record read from the inner store is served from memory (> 0). */
  ttlMs: number;
  maxEntries?: number;
  /** Monotonic milliseconds (default `performance.now`): a wall-clock step must not extend entries. */
  now?: () => number;
}

/** A read in flight: if an invalidation for its key arrives meanwhile, its result is not cached. */
interface PendingRead {
  stale: boolean;
}

/**
 * An in-process L1 cache of session records in front of any networked store, kept coherent by
 * the store's `InvalidationBus` (DESIGN §7). A hot session then costs no round trip per request.
 *
 * - A record read from the inner store is kept for `ttlMs`; `get(key, { fresh: true })` bypasses
 *   the cache (and refills it).
 * - Every invalidation the bus delivers (any replica's write, touch or delete, this one's at
 *   once) drops that key, and spoils reads of it that are in flight: their answer may predate the
 *   write, so it is returned but not cached.
 * - While the bus is not live the cache is neither read nor filled; when the bus says anything may
 *   have changed (delivery lost or restored), everything is dropped.
 * - `events` re-emits each invalidation *after* the cache dropped it, so a listener that reads the
 *   session at once (an open WebSocket's re-check) sees the new state.
 * Writes go straight to the inner store: it announces them on the bus itself.
 */
export class CachedStore<S extends SessionStore = SessionStore> extends StoreDecorator<S> {
  private readonly emitter = new EventEmitter();
  private readonly entries: BoundedTtlMap<string, SessionRecord>;
  private readonly reads = new Map<string, Set<PendingRead>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly unlisten: () => void;

  constructor(
    inner: S,
    private readonly bus: InvalidationBus,
    private readonly opts: CachedStoreOptions,
  ) {
    super(inner);
    this.emitter.setMaxListeners(0);
    this.entries = new BoundedTtlMap(
      opts.maxEntries ?? DEFAULT_MAX_ENTRIES,
      opts.now ?? (() => performance.now()),
    );
    this.sweeper = setInterval(() => this.entries.sweep(), Math.max(10_000, opts.ttlMs * 5));
    this.sweeper.unref();
    this.unlisten = bus.listen((key) => this.invalidate(key));
  }

  /** `invalidate` (a key, or undefined for every key) once this replica's cache has dropped it. */
  override get events(): EventEmitter {
    return this.emitter;
  }

  /** Entries in the cache (tests, metrics). */
  get cachedEntries(): number {
    return this.entries.size;
  }

  override async get(key: string, opts?: GetOptions): Promise<SessionRecord | undefined> {
    if (!this.bus.live) return this.inner.get(key, opts);
    if (!opts?.fresh) {
      const hit = this.entries.get(key);
      if (hit) return hit;
    }
    // Track the read: an invalidation arriving before its answer spoils it for caching.
    const mark: PendingRead = { stale: false };
    let set = this.reads.get(key);
    if (!set) {
      set = new Set();
      this.reads.set(key, set);
    }
    set.add(mark);
    let rec: SessionRecord | undefined;
    try {
      rec = await this.inner.get(key, opts);
    } finally {
      set.delete(mark);
      if (!set.size) this.reads.delete(key);
    }
    if (rec && this.bus.live && !mark.stale) this.entries.set(key, rec, this.opts.ttlMs);
    return rec;
  }

  private invalidate(key: string | undefined): void {
    if (key === undefined) {
      this.entries.clear();
      for (const set of this.reads.values()) for (const r of set) r.stale = true;
    } else {
      this.entries.delete(key);
      const pending = this.reads.get(key);
      if (pending) for (const r of pending) r.stale = true;
    }
    this.emitter.emit('invalidate', key);
  }

  override async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.unlisten();
    this.entries.clear();
    await this.inner.close();
  }
}
