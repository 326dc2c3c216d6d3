import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { RedisStore } from '../../src/store/redisStore.js';
import type { SessionStore, TakenFlow } from '../../src/store/types.js';
import { GatehouseError } from '../../src/util/errors.js';
import { freePort } from '../helpers/stack.js';
import {
  dropPrefix,
  keysUnder,
  openStore,
  record,
  requireRedis,
  silentLogger,
  testConfig,
  uniquePrefix,
} from './helpers.js';

/** Resolves when `store` has dropped `key` from its L1 cache because of an invalidation message. */
function invalidated(store: RedisStore, key: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (k: string | undefined) => {
      if (k === key) {
        store.events.off('invalidate', on);
        resolve();
      }
    };
    store.events.on('invalidate', on);
  });
}

describe('RedisStore (real Redis)', () => {
  const prefix = uniquePrefix('store');
  let redis: Redis;
  let a: RedisStore;
  let b: RedisStore;

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

  it('put is compare-and-set on version; null means "must not exist"', async () => {
    const r1 = record();
    assert.equal(await a.put('cas', r1, 60_000, null), true);
    assert.equal(await b.put('cas', r1, 60_000, null), false, 'already exists');
    const r2 = { ...r1, version: 2 };
    assert.equal(await b.put('cas', r2, 60_000, 7), false, 'wrong expected version');
    assert.equal((await a.get('cas', { fresh: true }))?.version, 1, 'a failed CAS writes nothing');
    assert.equal(await b.put('cas', r2, 60_000, 1), true);
    assert.equal(
      await a.put('cas', { ...r1, version: 2 }, 60_000, 1),
      false,
      'the loser of a race sees a conflict',
    );
    const got = await a.get('cas', { fresh: true });
    assert.equal(got?.version, 2);
    assert.equal(got?.tokens, r2.tokens);
    // Twenty concurrent writers from the same version: exactly one wins.
    const wins = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).put('cas', { ...r2, version: 3, tokens: `t${i}` }, 60_000, 2),
      ),
    );
    assert.equal(wins.filter(Boolean).length, 1);
  });

  it('the TTL is set with the write and the record expires', async () => {
    await a.put('ttl', record(), 150, null);
    const pttl = await redis.pttl(a.keys.session('ttl'));
    assert.ok(pttl > 0 && pttl <= 150, `PTTL ${pttl}`);
    const sub = await redis.pttl(a.keys.bySub('usr_alice'));
    assert.ok(sub > 0, 'the index set expires too');
    await new Promise((r) => setTimeout(r, 200)); // one timer: Redis TTLs run on real time
    assert.equal(await a.get('ttl', { fresh: true }), undefined);
    assert.equal(await redis.exists(a.keys.session('ttl')), 0);
  });

  it('touch records activity without rewriting the record or bumping its version', async () => {
    const r = record({ lastSeenAt: 1000 });
    await a.put('touch', r, 10_000, null);
    const before = await redis.hget(a.keys.session('touch'), 'd');
    await b.touch('touch', 5000, 60_000);
    assert.equal(await redis.hget(a.keys.session('touch'), 'd'), before, 'record JSON untouched');
    assert.equal(await redis.hget(a.keys.session('touch'), 'v'), '1');
    const got = await a.get('touch', { fresh: true });
    assert.equal(got?.version, 1);
    assert.equal(got?.lastSeenAt, 5000, 'get returns the later of the record and the touch');
    assert.ok((await redis.pttl(a.keys.session('touch'))) > 10_000, 'touch extended the TTL');
    await b.touch('touch', 3000, 1000);
    assert.equal(
      (await a.get('touch', { fresh: true }))?.lastSeenAt,
      5000,
      'an older touch never moves it back',
    );
    assert.ok((await redis.pttl(a.keys.session('touch'))) > 10_000, 'nor shortens the TTL');
    // A write based on a copy read before the touch keeps the touch's lastSeenAt.
    assert.equal(await a.put('touch', { ...r, version: 2 }, 10_000, 1), true);
    assert.equal((await a.get('touch', { fresh: true }))?.lastSeenAt, 5000);
    await b.touch('no-such-session', 1, 1000);
    assert.equal(await redis.exists(a.keys.session('no-such-session')), 0, 'touch never creates a record');
  });

  it('deleteMatching ends sessions by sid / sub exactly like the memory store', async () => {
    const scenario = async (s: SessionStore, tag: string) => {
      const alice = `usr_alice_${tag}`;
      const bob = `usr_bob_${tag}`;
      const put = (k: string, sub: string, sid?: string) =>
        s.put(`${tag}-${k}`, record({ sub, ...(sid ? { sid } : {}) }), 60_000, null);
      await put('a1', alice, `sid1-${tag}`);
      await put('a2', alice, `sid2-${tag}`);
      await put('a3', alice);
      await put('a4', alice, `sid1-${tag}`);
      await put('b1', bob, `sid3-${tag}`);
      await put('b2', bob);
      const live = async () => {
        const out: string[] = [];
        for (const k of ['a1', 'a2', 'a3', 'a4', 'b1', 'b2'])
          if (await s.get(`${tag}-${k}`, { fresh: true })) out.push(k);
        return out.join(',');
      };
      const steps: Array<[number, string]> = [];
      steps.push([await s.deleteMatching({}), await live()]);
      steps.push([await s.deleteMatching({ sid: `sid1-${tag}` }), await live()]);
      steps.push([await s.deleteMatching({ sub: alice, sid: `sid2-${tag}` }), await live()]);
      steps.push([await s.deleteMatching({ sid: 'unknown' }), await live()]);
      steps.push([await s.deleteMatching({ sub: bob }), await live()]);
      steps.push([await s.deleteMatching({ sub: bob }), await live()]);
      return steps;
    };
    const mem = new MemoryStore({ maxSessions: 100, clock: { now: () => Date.now() } });
    const expected = await scenario(mem, 'mem');
    await mem.close();
    assert.deepEqual(expected, [
      [0, 'a1,a2,a3,a4,b1,b2'],
      [2, 'a2,a3,b1,b2'],
      [2, 'b1,b2'],
      [0, 'b1,b2'],
      [2, ''],
      [0, ''],
    ]);
    assert.deepEqual(await scenario(a, 'red'), expected);
    assert.deepEqual(await redis.zrange(a.keys.bySub('usr_bob_red'), 0, -1), [], 'index entries are removed');
  });

  it('deleteMatching reaches sessions written by another store instance and evicts their L1 copies', async () => {
    await a.put('bcl-1', record({ sub: 'usr_carol', sid: 'carol-sid' }), 60_000, null);
    assert.ok(await b.get('bcl-1'));
    const gone = invalidated(b, 'bcl-1');
    assert.equal(await a.deleteMatching({ sub: 'usr_carol' }), 1);
    await gone;
    assert.equal(await b.get('bcl-1'), undefined);
  });

  it('login flows: bounded per browser (evicted flows deleted), each taken at most once', async () => {
    const flow = (browserId: string, n: number) => ({
      browserId,
      codeVerifier: `v${n}`,
      nonce: `n${n}`,
      returnTo: `/p${n}`,
      createdAt: Date.now(),
    });
    for (let i = 1; i <= 5; i++) await a.putFlow(`st-${i}`, flow('browser-1', i), 60_000, 3);
    await a.putFlow('st-other', flow('browser-2', 9), 60_000, 3);
    assert.equal(await redis.exists(a.keys.flow('st-1')), 0, 'evicted flow deleted');
    assert.equal(await redis.exists(a.keys.flow('st-2')), 0);
    assert.equal(await redis.llen(a.keys.browserFlows('browser-1')), 3);
    const taken = async (p: Promise<TakenFlow>) => {
      const t = await p;
      return t.ok ? t.flow : undefined;
    };
    assert.equal(await taken(b.takeFlow('st-1', 'browser-1')), undefined);
    assert.deepEqual(
      await b.takeFlow('st-5', 'browser-2'),
      { ok: false, reason: 'other_browser' },
      'another browser cannot take (or burn) it',
    );
    assert.equal((await taken(b.takeFlow('st-5', 'browser-1')))?.returnTo, '/p5');
    assert.equal(await taken(a.takeFlow('st-5', 'browser-1')), undefined, 'a state works once');
    assert.equal(
      (await taken(b.takeFlow('st-other', 'browser-2')))?.codeVerifier,
      'v9',
      'another browser is unaffected',
    );
    // Concurrent callbacks with one state: exactly one gets the flow.
    await a.putFlow('st-race', flow('browser-3', 1), 60_000, 3);
    const takes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => taken((i % 2 ? a : b).takeFlow('st-race', 'browser-3'))),
    );
    assert.equal(takes.filter(Boolean).length, 1);
    const ttl = await redis.pttl(a.keys.flow('st-3'));
    assert.ok(ttl > 0 && ttl <= 60_000);
  });

  it('login flows: capped in all (oldest first), evictions and completed flows leave no list entries behind', async () => {
    const p = uniquePrefix('flowcap');
    const capped = await RedisStore.open(testConfig({ redisKeyPrefix: p }).session, silentLogger, {
      maxPendingFlows: 100,
    });
    try {
      const f = (browserId: string, n: number) => ({
        browserId,
        codeVerifier: `v${n}`,
        nonce: `n${n}`,
        returnTo: `/p${n}`,
        createdAt: n,
      });
      for (let i = 1; i <= 150; i++) await capped.putFlow(`cap-${i}`, f(`br-${i}`, i), 60_000, 3);
      const keys = await keysUnder(redis, p);
      assert.equal(keys.filter((k) => k.startsWith(`${p}flow:`)).length, 100);
      assert.equal(
        keys.filter((k) => k.startsWith(`${p}flows:`)).length,
        100,
        'evicted browsers’ lists went too',
      );
      assert.equal(await redis.zcard(capped.keys.pendingFlows()), 100);
      assert.deepEqual(
        await capped.takeFlow('cap-50', 'br-50'),
        { ok: false, reason: 'unknown' },
        'oldest went',
      );
      assert.equal((await capped.takeFlow('cap-51', 'br-51')).ok, true, 'the 100 newest stay');
      assert.equal(await redis.zcard(capped.keys.pendingFlows()), 99, 'a completed flow leaves the index');
      assert.equal(await redis.exists(capped.keys.browserFlows('br-51')), 0, 'and its browser list');
      // Per-browser evictions leave the index too.
      for (let i = 1; i <= 4; i++) await capped.putFlow(`one-${i}`, f('br-one', i), 60_000, 3);
      assert.equal(await redis.zscore(capped.keys.pendingFlows(), 'one-1 br-one'), null);
      assert.equal(await redis.llen(capped.keys.browserFlows('br-one')), 3);
      for (const k of await keysUnder(redis, p)) assert.ok((await redis.pttl(k)) > 0, `${k} expires`);
    } finally {
      await capped.close();
      await dropPrefix(redis, p);
    }
  });

  it('markOnce is true once across replicas, with a TTL', async () => {
    assert.equal(await a.markOnce('jti:x', 60_000), true);
    assert.equal(await b.markOnce('jti:x', 60_000), false);
    assert.equal(await a.markOnce('jti:x', 60_000), false);
    assert.equal(await b.markOnce('jti:y', 60_000), true);
    const ttl = await redis.pttl(a.keys.once('jti:x'));
    assert.ok(ttl > 0 && ttl <= 60_000);
    const many = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).markOnce('jti:z', 1000)),
    );
    assert.equal(many.filter(Boolean).length, 1);
  });

  it('lock: exclusive, released only by its holder, waiters resume on the release message', async () => {
    const t = await a.lock.acquire('L1', 10_000);
    assert.ok(t);
    assert.equal(await b.lock.acquire('L1', 10_000), undefined, 'held');
    assert.equal(await a.lock.acquire('L1', 10_000), undefined, 'held, even for the same instance');
    await b.lock.release('L1', 'not-the-token');
    assert.equal(await b.lock.acquire('L1', 10_000), undefined, 'a wrong token does not release');
    let resolved = false;
    const started = performance.now();
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
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `woke on the release message (${Math.round(ms)} ms), not at the 10 s timeout`);
    assert.equal(b.lock.waiting, 0, 'waiter map emptied');
    const t2 = await b.lock.acquire('L1', 10_000);
    assert.ok(t2, 'free again');
    await b.lock.release('L1', t2);
  });

  it('lock: a waiter does not hang when the lock is already free or its holder died', async () => {
    let t0 = performance.now();
    await b.lock.waitForRelease('never-taken', 10_000);
    assert.ok(performance.now() - t0 < 1000, 'free lock: resolves at once');
    assert.ok(await a.lock.acquire('dead-holder', 300));
    t0 = performance.now();
    await b.lock.waitForRelease('dead-holder', 10_000); // nobody will ever release it
    const ms = performance.now() - t0;
    assert.ok(ms >= 250 && ms < 1500, `woke when the 300 ms lease ran out (${Math.round(ms)} ms)`);
    assert.ok(await b.lock.acquire('dead-holder', 1000), 'and can take it over');
    t0 = performance.now();
    await b.lock.waitForRelease('timeout-bound', 1); // bounded by the timeout too
    assert.ok(performance.now() - t0 < 500);
  });

  it('L1: served from cache, invalidated across instances on put, touch and delete', async () => {
    await a.put('l1', record(), 60_000, null);
    assert.equal((await b.get('l1'))?.version, 1);
    // Change Redis behind the stores' back (no message): the cached copy is still served...
    await redis.hset(b.keys.session('l1'), 'd', JSON.stringify(record({ version: 99 })));
    assert.equal((await b.get('l1'))?.version, 1, 'L1 hit: no Redis read');
    // ...but a fresh read is authoritative.
    assert.equal((await b.get('l1', { fresh: true }))?.version, 99);
    await redis.hset(b.keys.session('l1'), 'd', JSON.stringify(record({ version: 1 })), 'v', '1');
    await b.get('l1', { fresh: true });

    let gone = invalidated(b, 'l1');
    assert.equal(await a.put('l1', record({ version: 2 }), 60_000, 1), true);
    await gone;
    assert.equal((await b.get('l1'))?.version, 2, 'a write on A is seen by B');

    gone = invalidated(b, 'l1');
    await a.touch('l1', Date.now() + 5000, 60_000);
    await gone;
    assert.ok((await b.get('l1'))!.lastSeenAt > Date.now(), 'a touch is seen too (idle timeout)');

    gone = invalidated(b, 'l1');
    await a.delete('l1');
    await gone;
    assert.equal(await b.get('l1'), undefined, 'a delete on A is seen by B');
  });

  it('L1: a read racing an invalidation is not cached', async () => {
    await a.put('race', record(), 60_000, null);
    const read = b.get('race'); // in flight
    const gone = invalidated(b, 'race');
    await a.put('race', record({ version: 2 }), 60_000, 1);
    await gone;
    await read; // whatever it returned, it must not be cached
    assert.equal((await b.get('race'))?.version, 2);
  });

  it('L1 is flushed and bypassed while the subscriber reconnects', async () => {
    await a.put('flush', record(), 60_000, null);
    assert.ok(await b.get('flush'));
    assert.ok(b.cachedEntries > 0);
    const list = await redis.client('LIST');
    const line = String(list)
      .split('\n')
      .find((l) => l.includes(` name=${b.connectionName}-sub `));
    assert.ok(line, 'subscriber connection is named');
    const id = /\bid=(\d+)/.exec(line!)![1]!;
    const down = once(b.events, 'state', { signal: AbortSignal.timeout(5000) });
    await redis.client('KILL', 'ID', id);
    assert.equal((await down)[0], 'unsubscribed');
    assert.equal(b.cachedEntries, 0, 'flushed on disconnect');
    // Messages published now would be missed: reads go to Redis, nothing is cached.
    await redis.hset(b.keys.session('flush'), 'd', JSON.stringify(record({ version: 5 })));
    assert.equal((await b.get('flush'))?.version, 5);
    assert.equal(b.cachedEntries, 0);
    assert.equal(b.health().ok, false, 'not ready while unsubscribed');
    const [state] = await once(b.events, 'state', { signal: AbortSignal.timeout(5000) });
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
    const s = await openStore(uniquePrefix('down'), { redisUrl: `redis://127.0.0.1:${port}` });
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
