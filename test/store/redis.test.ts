import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { CachedStore } from '../../src/store/cachedStore.js';
import { openRedisStore, RedisStore } from '../../src/store/redisStore.js';
import { GatehouseError } from '../../src/util/errors.js';
import { freePort } from '../helpers/stack.js';
import {
  dropPrefix,
  keysUnder,
  openStore,
  requireRedis,
  silentLogger,
  storeOptions,
  uniquePrefix,
} from '../redis/helpers.js';
import { invalidated, type StoreUnderTest, storeContract } from './contract.js';
import { flow, record } from './record.js';

/** Two replicas on the shared test Redis under a prefix of their own, removed afterwards. */
function onRedis(name: string, cacheTtlMs: number): StoreUnderTest {
  return {
    name,
    async open({ maxPendingFlows }) {
      const redis = await requireRedis();
      const prefix = uniquePrefix('contract');
      const opts = storeOptions(prefix, { cacheTtlMs, maxPendingFlows });
      const a = await openRedisStore(opts, silentLogger);
      const b = await openRedisStore(opts, silentLogger);
      return {
        a,
        b,
        // Redis TTLs run on the server's clock: there is nothing to advance, only time to let pass.
        elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
        async close() {
          await a.close();
          await b.close();
          await dropPrefix(redis, prefix);
          redis.disconnect();
        },
      };
    },
  };
}

storeContract(onRedis('redis, behind its L1 cache (as the gateway runs it)', 2000));
storeContract(onRedis('redis without L1 cache (cacheTtlMs: 0)', 0));

describe('RedisStore specifics (real Redis)', () => {
  const prefix = uniquePrefix('store');
  let redis: Redis;
  let a: CachedStore<RedisStore>;
  let b: CachedStore<RedisStore>;

  before(async () => {
    redis = await requireRedis();
    a = await openStore(prefix);
    b = await openStore(prefix);
    assert.ok(a.health().ok, a.health().reason);
    assert.ok(b.health().ok, b.health().reason);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('openRedisStore puts the L1 cache in front unless cacheTtlMs is 0', async () => {
    const p = uniquePrefix('open');
    const bare = await openRedisStore(storeOptions(p, { cacheTtlMs: 0 }), silentLogger);
    try {
      assert.ok(bare instanceof RedisStore);
      assert.ok(a instanceof CachedStore && a.inner instanceof RedisStore);
      assert.equal(a.kind, 'redis');
      assert.equal(a.lock, a.inner.lock, 'the lock is the store’s');
    } finally {
      await bare.close();
    }
  });

  it('the TTL is set with the write, on the record and its index entries', async () => {
    await a.put('ttl', record(), 150, null);
    const pttl = await redis.pttl(a.inner.keys.session('ttl'));
    assert.ok(pttl > 0 && pttl <= 150, `PTTL ${pttl}`);
    assert.ok((await redis.pttl(a.inner.keys.bySub('usr_alice'))) > 0, 'the index set expires too');
  });

  it('touch moves only lastSeenAt and the TTL in Redis, and never shortens the TTL', async () => {
    const r = record({ lastSeenAt: 1000 });
    await a.put('touch', r, 10_000, null);
    const key = a.inner.keys.session('touch');
    const before = await redis.hget(key, 'd');
    await b.touch('touch', 5000, 60_000);
    assert.equal(await redis.hget(key, 'd'), before, 'record JSON untouched');
    assert.equal(await redis.hget(key, 'v'), '1');
    assert.ok((await redis.pttl(key)) > 10_000, 'touch extended the TTL');
    await b.touch('touch', 6000, 1000);
    assert.ok((await redis.pttl(key)) > 10_000, 'a shorter TTL does not shorten it');
    await b.touch('no-such-session', 1, 1000);
    assert.equal(await redis.exists(a.inner.keys.session('no-such-session')), 0);
  });

  it('a touch is announced to every replica (idle timeout across replicas)', async () => {
    await a.put('touched', record(), 60_000, null);
    assert.ok(await b.get('touched'));
    const gone = invalidated(b, 'touched');
    await a.touch('touched', Date.now() + 5000, 60_000);
    await gone;
    assert.ok((await b.get('touched'))!.lastSeenAt > Date.now());
  });

  it('deleteMatching removes the index entries it used', async () => {
    await a.put('idx-1', record({ sub: 'usr_erin', sid: 'erin-sid' }), 60_000, null);
    await a.put('idx-2', record({ sub: 'usr_erin' }), 60_000, null);
    assert.equal(await b.deleteMatching({ sub: 'usr_erin' }), 2);
    assert.deepEqual(await redis.zrange(a.inner.keys.bySub('usr_erin'), 0, -1), []);
  });

  it('login flows: evictions delete the flow keys and keep the browser lists bounded', async () => {
    for (let i = 1; i <= 5; i++) await a.putFlow(`st-${i}`, flow('browser-1', i), 60_000, 3);
    assert.equal(await redis.exists(a.inner.keys.flow('st-1')), 0, 'evicted flow deleted');
    assert.equal(await redis.exists(a.inner.keys.flow('st-2')), 0);
    assert.equal(await redis.llen(a.inner.keys.browserFlows('browser-1')), 3);
    const ttl = await redis.pttl(a.inner.keys.flow('st-3'));
    assert.ok(ttl > 0 && ttl <= 60_000);
  });

  it('login flows: the total cap and completed flows leave no list or index entries behind', async () => {
    const p = uniquePrefix('flowcap');
    const capped = await openStore(p, { maxPendingFlows: 100 });
    const keys = capped.inner.keys;
    try {
      for (let i = 1; i <= 150; i++) await capped.putFlow(`cap-${i}`, flow(`br-${i}`, i), 60_000, 3);
      const all = await keysUnder(redis, p);
      assert.equal(all.filter((k) => k.startsWith(`${p}flow:`)).length, 100);
      assert.equal(
        all.filter((k) => k.startsWith(`${p}flows:`)).length,
        100,
        'evicted browsers’ lists went too',
      );
      assert.equal(await redis.zcard(keys.pendingFlows()), 100);
      assert.equal((await capped.takeFlow('cap-51', 'br-51')).ok, true);
      assert.equal(await redis.zcard(keys.pendingFlows()), 99, 'a completed flow leaves the index');
      assert.equal(await redis.exists(keys.browserFlows('br-51')), 0, 'and its browser list');
      for (let i = 1; i <= 4; i++) await capped.putFlow(`one-${i}`, flow('br-one', i), 60_000, 3);
      assert.equal(
        await redis.zscore(keys.pendingFlows(), 'one-1 br-one'),
        null,
        'per-browser evictions too',
      );
      assert.equal(await redis.llen(keys.browserFlows('br-one')), 3);
      for (const k of await keysUnder(redis, p)) assert.ok((await redis.pttl(k)) > 0, `${k} expires`);
    } finally {
      await capped.close();
      await dropPrefix(redis, p);
    }
  });

  it('markOnce and lock keys carry their TTL', async () => {
    assert.equal(await a.markOnce('jti:x', 60_000), true);
    const ttl = await redis.pttl(a.inner.keys.once('jti:x'));
    assert.ok(ttl > 0 && ttl <= 60_000);
    const t = await a.lock.acquire('L-ttl', 10_000);
    assert.ok(t);
    const lease = await redis.pttl(a.inner.keys.lock('L-ttl'));
    assert.ok(lease > 0 && lease <= 10_000);
    await a.lock.release('L-ttl', t);
  });

  it('lock: a waiter is registered until the release message, then removed', async () => {
    const t = await a.lock.acquire('L1', 10_000);
    assert.ok(t);
    let resolved = false;
    const waiting = b.lock.waitForRelease('L1', 10_000).then(() => {
      resolved = true;
    });
    // The waiter registers, then reads the lease; it must still be waiting after that round trip.
    await redis.ping();
    await redis.ping();
    assert.equal(resolved, false);
    assert.equal(b.lock.waiting, 1);
    await a.lock.release('L1', t);
    await waiting;
    assert.equal(b.lock.waiting, 0, 'waiter map emptied');
  });

  it('L1: a change behind the stores’ back (no message) is not seen until a fresh read', async () => {
    await a.put('l1', record(), 60_000, null);
    assert.equal((await b.get('l1'))?.version, 1);
    await redis.hset(b.inner.keys.session('l1'), 'd', JSON.stringify(record({ version: 99 })));
    assert.equal((await b.get('l1'))?.version, 1, 'L1 hit: no Redis read');
    assert.equal((await b.get('l1', { fresh: true }))?.version, 99, 'a fresh read is authoritative');
  });

  it('L1 is flushed and bypassed while the subscriber reconnects', async () => {
    await a.put('flush', record(), 60_000, null);
    assert.ok(await b.get('flush'));
    assert.ok(b.cachedEntries > 0);
    const list = await redis.client('LIST');
    const line = String(list)
      .split('\n')
      .find((l) => l.includes(` name=${b.inner.connectionName}-sub `));
    assert.ok(line, 'subscriber connection is named');
    const id = /\bid=(\d+)/.exec(line!)![1]!;
    const down = once(b.inner.events, 'state', { signal: AbortSignal.timeout(5000) });
    await redis.client('KILL', 'ID', id);
    assert.equal((await down)[0], 'unsubscribed');
    assert.equal(b.cachedEntries, 0, 'flushed on disconnect');
    // Messages published now would be missed: reads go to Redis, nothing is cached.
    await redis.hset(b.inner.keys.session('flush'), 'd', JSON.stringify(record({ version: 5 })));
    assert.equal((await b.get('flush'))?.version, 5);
    assert.equal(b.cachedEntries, 0);
    assert.equal(b.health().ok, false, 'not ready while unsubscribed');
    const [state] = await once(b.inner.events, 'state', { signal: AbortSignal.timeout(5000) });
    assert.equal(state, 'subscribed');
    assert.ok(b.health().ok);
    assert.equal((await b.get('flush'))?.version, 5);
    assert.equal(b.cachedEntries, 1, 'caching again');
  });

  it('keys are all under the prefix, and every key has a TTL', async () => {
    const keys = await keysUnder(redis, prefix);
    assert.ok(keys.length > 5);
    for (const k of keys) {
      assert.ok(k.startsWith(prefix));
      assert.ok((await redis.pttl(k)) > 0, `${k} has a TTL`);
    }
  });
});

describe('RedisStore when Redis is unreachable', () => {
  it('fails fast with store_unavailable (503) and reports not ready; never throws anything else', async () => {
    const port = await freePort(); // nothing listens there
    const t0 = performance.now();
    const s = await openStore(uniquePrefix('down'), { url: `redis://127.0.0.1:${port}` });
    try {
      assert.ok(performance.now() - t0 < 3000, 'startup does not hang');
      const h = s.health();
      assert.equal(h.ok, false);
      assert.match(h.reason ?? '', /redis/);
      const ops: Array<[string, () => Promise<unknown>]> = [
        ['get', () => s.get('k')],
        ['put', () => s.put('k', record(), 1000, null)],
        ['touch', () => s.touch('k', 1, 1000)],
        ['delete', () => s.delete('k')],
        ['deleteMatching', () => s.deleteMatching({ sub: 'x' })],
        [
          'putFlow',
          () =>
            s.putFlow(
              'st',
              { browserId: 'b', codeVerifier: 'v', nonce: 'n', returnTo: '/', createdAt: 0 },
              1000,
              3,
            ),
        ],
        ['takeFlow', () => s.takeFlow('st', 'b')],
        ['markOnce', () => s.markOnce('j', 1000)],
        ['lock.acquire', () => s.lock.acquire('l', 1000)],
      ];
      for (const [name, op] of ops) {
        const t = performance.now();
        await assert.rejects(op(), (err: unknown) => {
          assert.ok(err instanceof GatehouseError, `${name}: ${String(err)}`);
          assert.equal(err.code, 'store_unavailable');
          assert.equal(err.status, 503);
          return true;
        });
        assert.ok(performance.now() - t < 1000, `${name} failed fast`);
      }
      const w = performance.now();
      await s.lock.waitForRelease('l', 100); // bounded, never rejects
      assert.ok(performance.now() - w < 1000);
    } finally {
      await s.close();
    }
  });
});
