import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SessionRecord } from '../../src/session/record.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

/**
 * The memory store behind the same verifying path as Redis (issue 8 item 10): a record put into
 * the store by anything but the session layer — here straight through the store port, the way a
 * bug or an embedding application could — is no session, counted and logged like on Redis.
 */
describe('stored records are authenticated (memory store)', () => {
  let s: Stack;
  const cookies: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  const keys: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  const as = (cookie: string, path: string, kind: 'navigate' | 'api'): Promise<Reply> => {
    const b = new TestBrowser();
    b.cookies(new URL(s.url).host).set('gatehouse', cookie);
    return b.request(`${s.url}${path}`, { kind });
  };
  /** A copy of the record as the store holds it (JSON round trip, as an attacker would see it). */
  const copy = async (key: string): Promise<SessionRecord> =>
    JSON.parse(JSON.stringify(await s.gw.store.get(key))) as SessionRecord;
  const rejected = async (reason: string) =>
    (await s.gw.metrics.recordsRejected.get()).values
      .filter((v) => v.labels.reason === reason)
      .reduce((a, v) => a + v.value, 0);

  before(async () => {
    s = await startStack({
      config: {
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
        logging: { level: 'info' },
      } as never,
    });
    assert.equal(s.gw.store.kind, 'memory');
    for (const user of ['alice', 'bob'] as const) {
      const b = new TestBrowser();
      assert.equal((await login(s, b, { path: '/', user })).at(-1)!.status, 200);
      cookies[user] = b.cookie(s.url, 'gatehouse')!;
      keys[user] = s.gw.engine.ctx.sessions.codec.open(cookies[user])!;
    }
  });
  after(() => s?.close());

  it('sessions written and read through the session layer work as before', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await as(cookies.alice, '/admin', 'api')).status, 200);
      assert.equal((await as(cookies.bob, '/admin', 'api')).status, 403);
      assert.equal((await as(cookies.bob, '/', 'api')).status, 200);
    }
    assert.equal(await rejected('invalid'), 0);
  });

  it("bob's record with alice's identity, or with alice's token blob, put straight into the store: no session", async () => {
    const alice = await copy(keys.alice);
    const original = await s.gw.store.get(keys.bob);
    const forged = await copy(keys.bob);
    forged.sub = alice.sub;
    forged.identity = alice.identity;
    assert.ok(await s.gw.store.put(keys.bob, forged, 60_000, forged.version));
    assert.equal((await as(cookies.bob, '/admin', 'api')).status, 401);
    const nav = await as(cookies.bob, '/admin', 'navigate');
    assert.equal(nav.status, 302);
    assert.ok(nav.location?.startsWith(s.idp.issuer));
    assert.equal(await rejected('invalid'), 2);

    const swapped = await copy(keys.bob);
    swapped.identity = original!.identity;
    swapped.sub = original!.sub;
    swapped.tokens = alice.tokens;
    assert.ok(await s.gw.store.put(keys.bob, swapped, 60_000, swapped.version));
    assert.equal((await as(cookies.bob, '/', 'api')).status, 401);
    assert.equal(await rejected('invalid'), 3);

    const warn = s.logs.find((l) => l.level === 40 && String(l.msg).includes('failed verification'));
    assert.ok(warn);
    assert.equal(warn.session, keys.bob.slice(0, 12));
    assert.ok(!JSON.stringify(warn).includes('alice'));

    // The untouched record, put back, is bob again.
    assert.ok(await s.gw.store.put(keys.bob, original!, 60_000, swapped.version));
    assert.equal((await as(cookies.bob, '/', 'api')).status, 200);
    assert.equal((await as(cookies.alice, '/admin', 'api')).status, 200);
  });
});
