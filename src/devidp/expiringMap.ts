// A Map with per-entry expiry and a hard size cap. Everything the dev IdP remembers (codes,
// tokens, sessions, login interactions) lives in one of these, so memory stays bounded under
// load: expired entries are dropped by the sweeper, and past the cap the oldest entry goes.

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class ExpiringMap<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  readonly #cap: number;

  constructor(cap: number) {
    if (!Number.isInteger(cap) || cap < 1) throw new Error(`cap must be a positive integer, got ${cap}`);
    this.#cap = cap;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Re-setting a key moves it to the young end, so eviction order follows the last write. */
  set(key: K, value: V, expiresAt: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    // Map iterates in insertion order, so the first key is always the oldest write.
    while (this.#entries.size > this.#cap) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** The live value; an expired entry reads as absent (and is dropped) even before a sweep. */
  get(key: K, now: number): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Extends or shortens an entry's life without moving it in eviction order. */
  setExpiry(key: K, expiresAt: number): void {
    const e = this.#entries.get(key);
    if (e !== undefined) e.expiresAt = expiresAt;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Live entries; used by rare whole-store operations (revoke a user). */
  *entries(now: number): IterableIterator<[K, V]> {
    for (const [k, e] of this.#entries) if (e.expiresAt > now) yield [k, e.value];
  }

  sweep(now: number): number {
    let removed = 0;
    for (const [k, e] of this.#entries) {
      if (e.expiresAt <= now) {
        this.#entries.delete(k);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
  }
}
