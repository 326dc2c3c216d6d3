/**
 * How a networked store tells each replica's in-process cache (`CachedStore`) that a session
 * changed. Redis pub/sub implements it (`store/redis/subscription.ts`); a PostgreSQL store would
 * with LISTEN/NOTIFY. The store publishes as part of each write (atomically, where it can); the
 * bus only delivers.
 */
export interface InvalidationBus {
  /**
   * True while every replica's invalidations reach this one. While false, messages may be lost,
   * so a cache in front of the store must be neither read nor filled.
   */
  readonly live: boolean;
  /**
   * Calls `listener` with the key of each session written, touched or deleted — by another
   * replica when its message arrives, and by this replica at once, before the write's promise
   * resolves (the message's echo comes later) — and with undefined when anything may have changed
   * (delivery lost or restored: messages may have been missed). Returns the unsubscribe.
   */
  listen(listener: (key: string | undefined) => void): () => void;
}
