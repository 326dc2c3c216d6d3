import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionRecord } from '../../src/session/record.js';
import type { GetOptions } from '../../src/session/store.js';
import { CachedStore } from '../../src/store/cachedStore.js';
import type { InvalidationBus } from '../../src/store/invalidationBus.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { storeContract } from './contract.js';
import { record } from './record.js';

/** A bus the test drives: `send` delivers to every listener, `live` says whether delivery is trusted. */
class TestBus implements InvalidationBus {
  live = true;
  private readonly listeners = new Set<(key: string | undefined) => void>();
  listen(listener: (key: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  send(key: string | undefined): void {
    for (const l of this.listeners) l(key);
  }
  get listening(): number {
    return this.listeners.size;
  }
}

/** A shared in-process "server" whose every write and delete is announced on one bus. */
function sharedMemory(clock: ManualClock, maxFlows = 1000) {
  const server = new MemoryStore({ maxSessions: 1000, maxFlows, clock });
  const bus = new TestBus();
  server.events.on('invalidate', (key: string | undefined) => bus.send(key));
  return { server, bus };
}

// Two replicas, each with its own L1, in front of one shared store.
storeContract({
  name: 'L1 cache in front of a shared store (two replicas)',
  async open({ maxPendingFlows }) {
    const clock = new ManualClock();
    const { server, bus } = sharedMemory(clock, maxPendingFlows);
    const now = () => clock.now();
    const a = new CachedStore(server, bus, { ttlMs: 2000, now });
    const b = new CachedStore(server, bus, { ttlMs: 2000, now });
    return {
      a,
      b,
      elapse: async (ms) => clock.advance(ms),
      async close() {
        await a.close();
        await b.close();
      },
    };
  },
});

/** The decorator over a memory store whose reads are counted (and can be held open). */
function counted(opts: { ttlMs?: number; maxEntries?: number } = {}) {
  const clock = new ManualClock();
  const inner = new MemoryStore({ maxSessions: 1000, clock });
  const bus = new TestBus();
  const reads: Array<{ key: string; fresh: boolean }> = [];
  let hold: Promise<void> | undefined;
  const get = inner.get.bind(inner);
  inner.get = async (key: string, o?: GetOptions): Promise<SessionRecord | undefined> => {
    reads.push({ key, fresh: o?.fresh === true });
    const answer = await get(key, o); // read now, answered when released: an answer that predates a write
    if (hold) await hold;
    return answer;
  };
  const cache = new CachedStore(inner, bus, { ttlMs: opts.ttlMs ?? 2000, now: () => clock.now(), ...opts });
  return {
    clock,
    inner,
    bus,
    reads,
    cache,
    /** Holds every inner read's answer until the returned function is called. */
    holdReads(): () => void {
      let release!: () => void;
      hold = new Promise((r) => {
        release = r;
      });
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

describe('CachedStore (the L1 decorator)', () => {
  it('serves a hit without reading the inner store; a fresh read goes through and refills', async () => {
    const { inner, reads, cache } = counted();
    await inner.put('k', record(), 60_000, null);
    assert.equal((await cache.get('k'))?.version, 1);
    for (let i = 0; i < 10; i++) assert.equal((await cache.get('k'))?.version, 1);
    assert.equal(reads.length, 1, 'one read for eleven gets');
    assert.equal(cache.cachedEntries, 1);
    assert.equal((await cache.get('k', { fresh: true }))?.version, 1);
    assert.deepEqual(reads.at(-1), { key: 'k', fresh: true }, 'fresh is passed on');
    assert.equal(reads.length, 2);
    await cache.get('k');
    assert.equal(reads.length, 2);
  });

  it('an invalidation drops the key (and only it), then re-emits it once dropped', async () => {
    const { inner, bus, reads, cache } = counted();
    await inner.put('k', record(), 60_000, null);
    await inner.put('other', record(), 60_000, null);
    await cache.get('k');
    await cache.get('other');
    // A listener that reads at once (an open WebSocket's re-check) must not get the dropped copy.
    const rechecks: Array<Promise<SessionRecord | undefined>> = [];
    cache.events.on('invalidate', (key: string) => rechecks.push(cache.get(key)));
    await inner.put('k', record({ version: 2 }), 60_000, 1); // a write elsewhere: the cache does not know…
    assert.equal((await cache.get('k'))?.version, 1, '…until the bus says so');
    bus.send('k');
    assert.equal(rechecks.length, 1);
    assert.equal((await rechecks[0])?.version, 2, "the re-emitted event's listener reads the new record");
    assert.equal((await cache.get('k'))?.version, 2);
    const before = reads.length;
    await cache.get('other');
    assert.equal(reads.length, before, 'the other key stayed cached');
  });

  it('not live: every read goes to the store and nothing is cached; losing or regaining delivery flushes', async () => {
    const { inner, bus, reads, cache } = counted();
    await inner.put('k', record(), 60_000, null);
    await cache.get('k');
    assert.equal(cache.cachedEntries, 1);
    bus.live = false;
    bus.send(undefined);
    assert.equal(cache.cachedEntries, 0, 'flushed');
    await cache.get('k');
    await cache.get('k');
    assert.equal(reads.length, 3, 'every read went through');
    assert.equal(cache.cachedEntries, 0, 'nothing cached while messages may be lost');
    bus.send(undefined);
    bus.live = true;
    await cache.get('k');
    await cache.get('k');
    assert.equal(reads.length, 4, 'caching again');
  });

  it('a read in flight when its key is invalidated is answered but not cached', async () => {
    const { inner, bus, reads, cache, holdReads } = counted();
    await inner.put('k', record(), 60_000, null);
    const release = holdReads();
    const read = cache.get('k'); // read before the write, answered after the invalidation
    await inner.put('k', record({ version: 2 }), 60_000, 1);
    bus.send('k');
    release();
    assert.equal((await read)?.version, 1, 'the old answer is returned…');
    assert.equal(cache.cachedEntries, 0, '…but not cached');
    assert.equal((await cache.get('k'))?.version, 2);
    assert.equal(reads.length, 2);
  });

  it('a read in flight across a flush is not cached either', async () => {
    const { inner, bus, cache, holdReads } = counted();
    await inner.put('k', record(), 60_000, null);
    const release = holdReads();
    const read = cache.get('k');
    bus.send(undefined);
    release();
    await read;
    assert.equal(cache.cachedEntries, 0);
  });

  it('entries live ttlMs, and there are at most maxEntries', async () => {
    const { clock, inner, reads, cache } = counted({ ttlMs: 1000, maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) {
      await inner.put(k, record(), 60_000, null);
      await cache.get(k);
    }
    assert.equal(cache.cachedEntries, 3, 'bounded');
    clock.advance(999);
    const before = reads.length;
    await cache.get('d');
    assert.equal(reads.length, before, 'still fresh');
    clock.advance(1);
    await cache.get('d');
    assert.equal(reads.length, before + 1, 'expired after ttlMs');
  });

  it('passes writes, flows, counters and health through; close stops listening and closes the store', async () => {
    const { inner, bus, cache } = counted();
    assert.equal(cache.kind, 'memory');
    assert.equal(await cache.put('k', record(), 60_000, null), true);
    assert.equal((await inner.get('k', { fresh: true }))?.version, 1);
    await cache.putFlow(
      'st',
      { browserId: 'b', codeVerifier: 'v', nonce: 'n', returnTo: '/', createdAt: 0 },
      1000,
      3,
    );
    assert.equal((await inner.takeFlow('st', 'b')).ok, true);
    assert.equal((await cache.countHit('x', 1000)).count, 1);
    assert.equal((await inner.countHit('x', 1000)).count, 2);
    assert.deepEqual(cache.health(), { ok: true });
    assert.equal(bus.listening, 1);
    await cache.close();
    assert.equal(bus.listening, 0);
    assert.equal(cache.cachedEntries, 0);
  });
});
