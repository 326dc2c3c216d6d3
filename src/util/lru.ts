/**
 * A bounded map with per-entry expiry. Insertion order doubles as recency: `get` moves a hit to the
 * end, `set` evicts from the front once `max` is reached. Expired entries are dropped lazily on
 * read and by `sweep()`, so there are no per-entry timers.
 */
export class BoundedTtlMap<K, V> {
  private readonly map = new Map<K, { value: V; expiresAt: number }>();

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
    this.map.delete(key);
    this.map.set(key, hit);
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
    while (this.map.size >= this.max) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
    this.map.set(key, { value, expiresAt: this.now() + ttlMs });
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
