/**
 * A bounded map with per-entry expiry. When full, `set` evicts the least recently used entry,
 * approximately: a hit only marks its entry used (second chance, the CLOCK algorithm), and
 * eviction walks from the oldest insertion, giving each used entry one more round (moved to the
 * end, mark cleared; at most 32 per `set`) and evicting the first unused or expired one. A hit therefore changes no
 * Map: moving every hit to the end (delete + set) cost two Map operations per read on every
 * authenticated request, and the deleted slots they leave make a Map of 100 000 sessions rebuild
 * its table every few tens of thousands of reads. Expired entries are dropped lazily on read and
 * by `sweep()`, so there are no per-entry timers.
 */
/** Used entries moved to the end by one `set` at most; the next oldest is evicted whatever its mark. */
const MAX_SECOND_CHANCES = 32;

export class BoundedTtlMap<K, V> {
  private readonly map = new Map<K, { value: V; expiresAt: number; used: boolean }>();

  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    hit.used = true;
    return hit.value;
  }

  /** Reads without changing recency. */
  peek(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit || hit.expiresAt <= this.now()) return undefined;
    return hit.value;
  }

  set(key: K, value: V, ttlMs: number): void {
    this.map.delete(key);
    const now = this.now();
    // One iterator for the walk: a fresh one per step would skip again every slot the walk has
    // emptied at the front (quadratic: seconds on a full map of 100 000 read entries). It sees
    // the entries moved to the end, and at most MAX_SECOND_CHANCES are moved per `set`, so one
    // `set` costs a bounded walk however many entries were read.
    const oldest = this.map.entries();
    let chances = 0;
    while (this.map.size >= this.max) {
      const next = oldest.next();
      if (next.done) break;
      const [k, e] = next.value;
      this.map.delete(k);
      if (e.used && e.expiresAt > now && chances < MAX_SECOND_CHANCES) {
        chances++;
        e.used = false;
        this.map.set(k, e);
      }
    }
    this.map.set(key, { value, expiresAt: now + ttlMs, used: false });
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /** Removes expired entries; returns how many went. */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const [k, v] of this.map) {
      if (v.expiresAt <= t) {
        this.map.delete(k);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.map.clear();
  }

  *entries(): IterableIterator<[K, V]> {
    const t = this.now();
    for (const [k, v] of this.map) if (v.expiresAt > t) yield [k, v.value];
  }
}
