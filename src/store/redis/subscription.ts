import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../../util/log.js';
import type { InvalidationBus } from '../invalidationBus.js';
import type { RedisKeys } from './keys.js';

export interface SubscriptionDeps {
  keys: RedisKeys;
  logger: Logger;
  /** For logs: the store's mode and addresses. */
  describe: string;
  /** A message on the release channel: the lock's waiters for that name resume. */
  onReleased(name: string): void;
  /** Subscribed (again) or lost: the store's readiness changes. */
  onState(state: 'subscribed' | 'unsubscribed'): void;
  /** A failed SUBSCRIBE (it is retried on the next reconnect). */
  onError(err: unknown): void;
}

/**
 * The store's one subscriber connection: the invalidation channel (every replica's writes, which
 * the Lua scripts PUBLISH in the same step) and the lock's release channel. It is the Redis
 * store's `InvalidationBus`: live only while subscribed; on every (re)subscription and on every
 * loss it tells its listeners that anything may have changed, since messages sent while nobody
 * listened are gone.
 */
export class RedisSubscription implements InvalidationBus {
  private subscribed = false;
  private closed = false;
  private readonly listeners = new Set<(key: string | undefined) => void>();

  constructor(
    private readonly sub: Redis | Cluster,
    private readonly d: SubscriptionDeps,
  ) {
    sub.on('ready', () => void this.subscribe());
    sub.on('close', () => this.lost());
    sub.on('end', () => this.lost());
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  get live(): boolean {
    return this.subscribed;
  }

  listen(listener: (key: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** This replica's own write: its listeners hear of it now, before the PUBLISH comes back. */
  announce(key: string): void {
    this.notify(key);
  }

  /** The store is closing: a subscription completing now is not reported. */
  close(): void {
    this.closed = true;
    this.subscribed = false;
  }

  private notify(key: string | undefined): void {
    for (const listener of this.listeners) listener(key);
  }

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.d.keys.invalidateChannel, this.d.keys.releasedChannel);
    } catch (err) {
      this.d.onError(err);
      return;
    }
    if (this.closed) return;
    // Whatever was published while we were not listening is lost.
    this.notify(undefined);
    this.subscribed = true;
    this.d.logger.info({ store: this.d.describe }, 'session store (redis) invalidation channel subscribed');
    this.d.onState('subscribed');
  }

  private lost(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.notify(undefined);
    this.d.onState('unsubscribed');
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.d.keys.invalidateChannel) this.notify(message);
    else if (channel === this.d.keys.releasedChannel) this.d.onReleased(message);
  }
}
