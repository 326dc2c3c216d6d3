import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { AssertionCache } from '../../src/assertion/assertionCache.js';
import { buildKeySet } from '../../src/assertion/keySet.js';
import { AssertionSigner } from '../../src/assertion/signer.js';
import { ManualClock } from '../../src/util/clock.js';

/** Signing is not on every request's path: what the engine's assertion cache reuses and what it signs anew. */
describe('assertion cache', () => {
  const alice = { sub: 'usr_alice', user: 'alice', groups: ['admins'], roles: [] };

  async function setup() {
    const clock = new ManualClock(1_700_000_000_000);
    const keys = await buildKeySet(
      { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, alg: 'ES256' },
      [],
    );
    const signer = new AssertionSigner(
      keys,
      'https://gatehouse.example.com',
      { assertionClaims: ['sub', 'groups'], assertionLifetimeSeconds: 60 },
      clock,
    );
    let signed = 0;
    const sign = signer.sign.bind(signer);
    signer.sign = (id, route) => {
      signed++;
      return sign(id, route);
    };
    return { clock, cache: new AssertionCache(signer, clock), signer, signedCount: () => signed };
  }

  it('a session (key + version) keeps its assertion until half the lifetime is spent; a new version gets a new one', async () => {
    const { clock, cache, signedCount } = await setup();
    const first = await cache.get('k1#1', alice, 'default');
    assert.equal((await cache.get('k1#1', alice, 'default')).token, first.token);
    clock.advance(29_999);
    assert.equal((await cache.get('k1#1', alice, 'default')).token, first.token);
    assert.equal(signedCount(), 1);
    // A refresh wrote version 2: signed at once, whatever the age of the old one.
    const refreshed = await cache.get('k1#2', { ...alice, groups: [] }, 'default');
    assert.notEqual(refreshed.token, first.token);
    clock.advance(1);
    assert.notEqual(
      (await cache.get('k1#1', alice, 'default')).token,
      first.token,
      'half spent: signed again',
    );
    assert.equal(signedCount(), 3);
  });

  it('per route; concurrent requests share one signing; an object principal is cached too', async () => {
    const { cache, signedCount } = await setup();
    const [a, b] = await Promise.all([
      cache.get('k#1', alice, 'default'),
      cache.get('k#1', alice, 'default'),
    ]);
    assert.equal(a.token, b.token);
    assert.notEqual((await cache.get('k#1', alice, 'grafana')).token, a.token);
    const bearer = {};
    const t = await cache.get(bearer, alice, 'default');
    assert.equal((await cache.get(bearer, alice, 'default')).token, t.token);
    assert.equal(signedCount(), 3);
  });

  it('a failed signing is not remembered', async () => {
    const { cache, signer } = await setup();
    const real = signer.sign.bind(signer);
    signer.sign = () => Promise.reject(new Error('boom'));
    await assert.rejects(cache.get('k#1', alice, 'default'), /boom/);
    signer.sign = real;
    assert.ok((await cache.get('k#1', alice, 'default')).token);
  });
});
