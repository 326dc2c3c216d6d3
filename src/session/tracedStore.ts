import type { Tracing } from '../util/tracing.js';
import type { SessionRecord } from './record.js';
import type { GetOptions, SessionStore } from './store.js';
import { StoreDecorator } from './storeDecorator.js';

/**
 * The store with a span (`gatehouse.store.get`) around every session read, so a trace shows
 * whether a slow request waited on the store. Only put in front of the store when tracing is on.
 * The key (a hash of the session id) is never an attribute.
 */
export class TracedStore extends StoreDecorator {
  constructor(
    inner: SessionStore,
    private readonly tracing: Tracing,
  ) {
    super(inner);
  }

  override get(key: string, opts?: GetOptions): Promise<SessionRecord | undefined> {
    return this.tracing.span(
      'gatehouse.store.get',
      'internal',
      { 'gatehouse.store.kind': this.kind, 'gatehouse.store.fresh': opts?.fresh === true },
      async (span) => {
        const rec = await this.inner.get(key, opts);
        span.setAttributes({ 'gatehouse.store.found': rec !== undefined });
        return rec;
      },
    );
  }
}
