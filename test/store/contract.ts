/**
 * The store contract: what every implementation of the session layer's port
 * (src/session/store.ts) must do, run against each store by its own `*.test.ts` in this folder.
 * A new store is done when `storeContract(...)` passes for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoginFlow, SessionStore, TakenFlow } from '../../src/session/store.js';
import { flow, record } from './record.js';

/** One store as two replicas see it. */
export interface StoreFixture {
  /** Two handles on the same data (the same object for an in-process store). */
  a: SessionStore;
  b: SessionStore;
  /**
   * Lets `ms` of the store's time pass: a manual clock for an in-process store; for a server,
   * whose TTLs run on its own clock, a real wait (keep the contract's TTLs short).
   */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface StoreUnderTest {
  name: string;
  /** A fresh, empty store whose total cap on pending login flows is `maxPendingFlows`. */
  open(opts: { maxPendingFlows: number }): Promise<StoreFixture>;
}

/** Short TTLs the contract uses, and how far past them it looks. */
const TTL = 100;
const PAST_TTL = 150;
const LONG = 60_000;

/** Resolves when `store` emits `invalidate` for `key`. Register before the write. */
export function invalidated(store: SessionStore, key: string): Promise<void> {
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

async function taken(p: Promise<TakenFlow>): Promise<LoginFlow | undefined> {
  const t = await p;
  return t.ok ? t.flow : undefined;
}

export function storeContract(sut: StoreUnderTest): void {
  /** Each test on a fresh store. */
  const withStore =
    (fn: (f: StoreFixture) => Promise<void>, maxPendingFlows = 1000) =>
    async () => {
      const f = await sut.open({ maxPendingFlows });
      try {
        await fn(f);
      } finally {
        await f.close();
      }
    };

  describe(`store contract: ${sut.name}`, () => {
    it(
      'is healthy when open, and close is idempotent',
      withStore(async ({ a, b }) => {
        assert.deepEqual(a.health(), { ok: true });
        assert.deepEqual(b.health(), { ok: true });
        assert.equal(typeof a.kind, 'string');
        await a.close();
        await a.close();
      }),
    );

    it(
      'put is compare-and-set on version; null means "must not exist"; of concurrent writers one wins',
      withStore(async ({ a, b }) => {
        const r1 = record();
        assert.equal(await a.put('cas', r1, LONG, null), true);
        assert.equal(await b.put('cas', r1, LONG, null), false, 'already exists');
        const r2 = { ...r1, version: 2 };
        assert.equal(await b.put('cas', r2, LONG, 7), false, 'wrong expected version');
        assert.equal((await a.get('cas', { fresh: true }))?.version, 1, 'a failed CAS writes nothing');
        assert.equal(await b.put('cas', r2, LONG, 1), true);
        assert.equal(
          await a.put('cas', { ...r1, version: 2 }, LONG, 1),
          false,
          'the loser of a race sees a conflict',
        );
        const got = await a.get('cas', { fresh: true });
        assert.equal(got?.version, 2);
        assert.equal(got?.tokens, r2.tokens);
        const wins = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 ? a : b).put('cas', { ...r2, version: 3, tokens: `t${i}` }, LONG, 2),
          ),
        );
        assert.equal(wins.filter(Boolean).length, 1);
        assert.equal(await a.put('nothing-there', r2, LONG, 1), false, 'no record: no version matches');
        assert.equal(await a.get('nothing-there', { fresh: true }), undefined);
      }),
    );

    it(
      'a record reads back as it was written, field order included (the MAC covers those bytes)',
      withStore(async ({ a, b }) => {
        const r = record({ sid: 'sid-1', refreshRetryAt: 5, mac: 'v1.k.t' });
        const reordered = Object.fromEntries(Object.entries(r).reverse()) as typeof r;
        await a.put('order', reordered, LONG, null);
        for (const s of [a, b]) {
          const got = await s.get('order', { fresh: true });
          assert.equal(JSON.stringify(got), JSON.stringify(reordered));
        }
        assert.equal(await a.get('never-written'), undefined);
      }),
    );

    it(
      'a record expires after its TTL',
      withStore(async ({ a, b, elapse }) => {
        await a.put('ttl', record(), TTL, null);
        assert.ok(await b.get('ttl', { fresh: true }));
        await elapse(PAST_TTL);
        assert.equal(await a.get('ttl', { fresh: true }), undefined);
        assert.equal(await b.get('ttl', { fresh: true }), undefined);
        assert.equal(await a.put('ttl', record(), LONG, null), true, 'an expired key can be created again');
      }),
    );

    it(
      'touch records activity without a new version, never moves lastSeenAt back, never creates a record',
      withStore(async ({ a, b }) => {
        await a.put('touch', record({ lastSeenAt: 1000 }), LONG, null);
        await b.touch('touch', 5000, LONG);
        const got = await a.get('touch', { fresh: true });
        assert.equal(got?.version, 1);
        assert.equal(got?.lastSeenAt, 5000);
        await b.touch('touch', 3000, LONG);
        assert.equal((await a.get('touch', { fresh: true }))?.lastSeenAt, 5000, 'an older touch is ignored');
        await b.touch('no-such-session', 1, LONG);
        assert.equal(await a.get('no-such-session', { fresh: true }), undefined);
      }),
    );

    it(
      'a touch extends the TTL',
      withStore(async ({ a, b, elapse }) => {
        await a.put('touch-ttl', record(), TTL, null);
        await b.touch('touch-ttl', Date.now(), LONG);
        await elapse(PAST_TTL);
        assert.ok(await a.get('touch-ttl', { fresh: true }), 'still there past the first TTL');
      }),
    );

    it(
      "a write of a copy read before a touch keeps the touch's lastSeenAt",
      withStore(async ({ a, b }) => {
        const r = record({ lastSeenAt: 1000 });
        await a.put('stale-copy', r, LONG, null);
        await b.touch('stale-copy', 5000, LONG);
        assert.equal(await a.put('stale-copy', { ...r, version: 2 }, LONG, 1), true);
        const got = await b.get('stale-copy', { fresh: true });
        assert.equal(got?.version, 2);
        assert.equal(got?.lastSeenAt, 5000);
      }),
    );

    it(
      'delete removes a record; deleting a missing one is no error',
      withStore(async ({ a, b }) => {
        await a.put('del', record(), LONG, null);
        await b.delete('del');
        assert.equal(await a.get('del', { fresh: true }), undefined);
        await b.delete('del');
        assert.equal(await a.put('del', record(), LONG, null), true, 'gone: can be created again');
      }),
    );

    it(
      'deleteMatching ends sessions by sid, by sub, and by sid plus the sub’s sessions without a sid',
      withStore(async ({ a, b }) => {
        const put = (k: string, sub: string, sid?: string) =>
          a.put(k, record({ sub, ...(sid ? { sid } : {}) }), LONG, null);
        await put('a1', 'alice', 'sid1');
        await put('a2', 'alice', 'sid2');
        await put('a3', 'alice');
        await put('a4', 'alice', 'sid1');
        await put('b1', 'bob', 'sid3');
        await put('b2', 'bob');
        const live = async () => {
          const out: string[] = [];
          for (const k of ['a1', 'a2', 'a3', 'a4', 'b1', 'b2'])
            if (await a.get(k, { fresh: true })) out.push(k);
          return out.join(',');
        };
        const steps: Array<[number, string]> = [];
        steps.push([await b.deleteMatching({}), await live()]);
        steps.push([await b.deleteMatching({ sid: 'sid1' }), await live()]);
        steps.push([await b.deleteMatching({ sub: 'alice', sid: 'sid2' }), await live()]);
        steps.push([await b.deleteMatching({ sid: 'unknown' }), await live()]);
        steps.push([await b.deleteMatching({ sub: 'bob' }), await live()]);
        steps.push([await b.deleteMatching({ sub: 'bob' }), await live()]);
        assert.deepEqual(steps, [
          [0, 'a1,a2,a3,a4,b1,b2'],
          [2, 'a2,a3,b1,b2'],
          [2, 'b1,b2'],
          [0, 'b1,b2'],
          [2, ''],
          [0, ''],
        ]);
      }),
    );

    it(
      "another replica's write, delete and deleteMatching are announced, and its next read sees them",
      withStore(async ({ a, b }) => {
        await a.put('inv', record({ sub: 'carol', sid: 'carol-sid' }), LONG, null);
        assert.equal((await b.get('inv'))?.version, 1, 'read (and cached, where there is a cache)');
        let gone = invalidated(b, 'inv');
        assert.equal(
          await a.put('inv', record({ version: 2, sub: 'carol', sid: 'carol-sid' }), LONG, 1),
          true,
        );
        await gone;
        assert.equal((await b.get('inv'))?.version, 2, 'a write is seen');
        gone = invalidated(b, 'inv');
        await a.delete('inv');
        await gone;
        assert.equal(await b.get('inv'), undefined, 'a delete is seen');
        await a.put('inv', record({ sub: 'carol', sid: 'carol-sid' }), LONG, null);
        assert.ok(await b.get('inv'));
        gone = invalidated(b, 'inv');
        assert.equal(await a.deleteMatching({ sub: 'carol' }), 1);
        await gone;
        assert.equal(await b.get('inv'), undefined, 'a back-channel logout is seen');
      }),
    );

    it(
      'a replica sees its own writes at once',
      withStore(async ({ a }) => {
        await a.put('own', record(), LONG, null);
        assert.equal((await a.get('own'))?.version, 1);
        assert.equal(await a.put('own', record({ version: 2 }), LONG, 1), true);
        assert.equal((await a.get('own'))?.version, 2);
        await a.delete('own');
        assert.equal(await a.get('own'), undefined);
        await a.put('own', record({ sub: 'dave' }), LONG, null);
        assert.ok(await a.get('own'));
        await a.deleteMatching({ sub: 'dave' });
        assert.equal(await a.get('own'), undefined);
      }),
    );

    it(
      'a read racing a write does not keep the old record',
      withStore(async ({ a, b }) => {
        await a.put('race', record(), LONG, null);
        const read = b.get('race'); // in flight
        const gone = invalidated(b, 'race');
        await a.put('race', record({ version: 2 }), LONG, 1);
        await gone;
        await read; // whatever it returned, it must not be what b serves from now on
        assert.equal((await b.get('race'))?.version, 2);
      }),
    );

    it(
      'login flows: bounded per browser (oldest first), other browsers cannot take them, each taken once',
      withStore(async ({ a, b }) => {
        for (let i = 1; i <= 5; i++) await a.putFlow(`st-${i}`, flow('browser-1', i), LONG, 3);
        await a.putFlow('st-other', flow('browser-2', 9), LONG, 3);
        assert.equal(await taken(b.takeFlow('st-1', 'browser-1')), undefined, 'evicted');
        assert.equal(await taken(b.takeFlow('st-2', 'browser-1')), undefined, 'evicted');
        assert.deepEqual(
          await b.takeFlow('st-5', 'browser-2'),
          { ok: false, reason: 'other_browser' },
          'another browser cannot take (or burn) it',
        );
        assert.equal((await taken(b.takeFlow('st-5', 'browser-1')))?.returnTo, '/p5');
        assert.deepEqual(await a.takeFlow('st-5', 'browser-1'), { ok: false, reason: 'unknown' }, 'once');
        assert.deepEqual(
          await taken(a.takeFlow('st-3', 'browser-1')),
          flow('browser-1', 3),
          'kept as written',
        );
        assert.equal((await taken(b.takeFlow('st-other', 'browser-2')))?.codeVerifier, 'v9');
        await a.putFlow('st-race', flow('browser-3', 1), LONG, 3);
        const takes = await Promise.all(
          Array.from({ length: 10 }, (_, i) => taken((i % 2 ? a : b).takeFlow('st-race', 'browser-3'))),
        );
        assert.equal(takes.filter(Boolean).length, 1, 'concurrent callbacks: exactly one gets it');
      }),
    );

    it(
      'login flows: capped in all, the oldest dropped first',
      withStore(async ({ a, b }) => {
        for (let i = 1; i <= 150; i++) await a.putFlow(`cap-${i}`, flow(`br-${i}`, i), LONG, 3);
        assert.deepEqual(
          await b.takeFlow('cap-50', 'br-50'),
          { ok: false, reason: 'unknown' },
          'oldest went',
        );
        assert.equal((await b.takeFlow('cap-51', 'br-51')).ok, true, 'the newest 100 stay');
        assert.equal((await b.takeFlow('cap-150', 'br-150')).ok, true);
      }, 100),
    );

    it(
      'login flows expire after their TTL',
      withStore(async ({ a, b, elapse }) => {
        await a.putFlow('short', flow('br', 1), TTL, 3);
        await a.putFlow('long', flow('br', 2), LONG, 3);
        await elapse(PAST_TTL);
        assert.deepEqual(await b.takeFlow('short', 'br'), { ok: false, reason: 'unknown' });
        assert.equal((await b.takeFlow('long', 'br')).ok, true);
      }),
    );

    it(
      'countHit: one fixed window from the first hit, shared by replicas, then a new one',
      withStore(async ({ a, b, elapse }) => {
        const first = await a.countHit('login:192.0.2.1', TTL);
        assert.equal(first.count, 1);
        assert.ok(first.resetInMs > 0 && first.resetInMs <= TTL, `resetInMs ${first.resetInMs}`);
        assert.equal((await b.countHit('login:192.0.2.1', TTL)).count, 2);
        assert.equal((await a.countHit('login:192.0.2.1', TTL)).count, 3);
        assert.equal((await a.countHit('login:192.0.2.2', TTL)).count, 1, 'per key');
        await elapse(PAST_TTL);
        assert.equal((await b.countHit('login:192.0.2.1', TTL)).count, 1, 'a new window');
      }),
    );

    it(
      'markOnce is true once across replicas (of concurrent marks, one), and again after its TTL',
      withStore(async ({ a, b, elapse }) => {
        assert.equal(await a.markOnce('jti:x', TTL), true);
        assert.equal(await b.markOnce('jti:x', TTL), false);
        assert.equal(await a.markOnce('jti:x', TTL), false);
        assert.equal(await b.markOnce('jti:y', LONG), true);
        const many = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).markOnce('jti:z', LONG)),
        );
        assert.equal(many.filter(Boolean).length, 1);
        await elapse(PAST_TTL);
        assert.equal(await b.markOnce('jti:x', LONG), true, 'expired');
        assert.equal(await a.markOnce('jti:y', LONG), false, 'not yet expired');
      }),
    );

    describe('the refresh lock (distributed stores only)', () => {
      /** The lock of both handles, or undefined (the test then checks that neither has one). */
      const locks = (f: StoreFixture) => {
        if (!f.a.lock || !f.b.lock) {
          assert.equal(f.a.lock ?? f.b.lock, undefined, 'both handles have a lock, or neither');
          return undefined;
        }
        return { a: f.a.lock, b: f.b.lock };
      };

      it(
        'is exclusive, renewed and released only by its holder, then free again',
        withStore(async (f) => {
          const l = locks(f);
          if (!l) return;
          const t = await l.a.acquire('L1', LONG);
          assert.ok(t);
          assert.equal(await l.b.acquire('L1', LONG), undefined, 'held');
          assert.equal(await l.a.acquire('L1', LONG), undefined, 'held, even for the same replica');
          assert.equal(await l.b.renew('L1', 'not-the-token', LONG), false);
          assert.equal(await l.a.renew('L1', t, LONG), true);
          await l.b.release('L1', 'not-the-token');
          assert.equal(await l.b.acquire('L1', LONG), undefined, 'a wrong token does not release');
          await l.a.release('L1', t);
          assert.equal(await l.a.renew('L1', t, LONG), false, 'released: nothing to renew');
          const t2 = await l.b.acquire('L1', LONG);
          assert.ok(t2, 'free again');
          assert.notEqual(t2, t, 'a new token each time');
          await l.b.release('L1', t2);
        }),
      );

      it(
        'a lease runs out by itself, and a renewal extends it',
        withStore(async (f) => {
          const l = locks(f);
          if (!l) return;
          assert.ok(await l.a.acquire('short', TTL));
          const kept = await l.a.acquire('kept', TTL);
          assert.ok(kept);
          assert.equal(await l.a.renew('kept', kept, LONG), true);
          await f.elapse(PAST_TTL);
          assert.ok(await l.b.acquire('short', LONG), 'ran out');
          assert.equal(await l.b.acquire('kept', LONG), undefined, 'renewed');
        }),
      );

      it(
        'a waiter resumes on the release, at once for a free lock, and at the lease end of a dead holder',
        withStore(async (f) => {
          const l = locks(f);
          if (!l) return;
          const t = await l.a.acquire('W', LONG);
          assert.ok(t);
          let t0 = performance.now();
          const waiting = l.b.waitForRelease('W', LONG);
          await l.a.release('W', t);
          await waiting;
          assert.ok(performance.now() - t0 < 1000, 'woken by the release, not at the timeout');
          t0 = performance.now();
          await l.b.waitForRelease('never-taken', LONG);
          assert.ok(performance.now() - t0 < 1000, 'a free lock: at once');
          assert.ok(await l.a.acquire('dead-holder', 300));
          t0 = performance.now();
          await l.b.waitForRelease('dead-holder', LONG); // nobody will ever release it
          const ms = performance.now() - t0;
          assert.ok(ms >= 250 && ms < 1500, `woke when the 300 ms lease ran out (${Math.round(ms)} ms)`);
          assert.ok(await l.b.acquire('dead-holder', LONG), 'and can take it over');
          assert.ok(await l.a.acquire('timeout-bound', LONG));
          t0 = performance.now();
          await l.b.waitForRelease('timeout-bound', 1);
          assert.ok(performance.now() - t0 < 500, 'bounded by the timeout');
        }),
      );
    });
  });
}
