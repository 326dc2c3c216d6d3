import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../../src/session/record.js';
import type { CachedStore } from '../../src/store/cachedStore.js';
import type { RedisStore } from '../../src/store/redisStore.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { dropPrefix, REDIS_URL, requireRedis, run, uniquePrefix } from './helpers.js';

/**
 * Issue 8 item 10, as an attacker with write access to Redis would try it: the real `redis-cli`
 * rewrites bob's record (hash field `d`) with alice's identity and groups, or moves alice's sealed
 * token blob into bob's record, then publishes an invalidation so that no cache hides the edit.
 * Bob must never reach `/admin` (rule: group admins), nor be served at all on the edited record.
 */
describe('stored records are authenticated (real Redis, redis-cli HSET)', () => {
  const prefix = uniquePrefix('integrity');
  let redis: Redis;
  let s: Stack;
  let store: CachedStore<RedisStore>;
  const cookies: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  const keys: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  const hashKey = (key: string) => store.inner.keys.session(key);
  const cli = (...args: string[]) => run('redis-cli', ['-u', REDIS_URL, ...args]);
  /** A request carrying exactly this session cookie (a fresh browser, so a cleared cookie does not stick). */
  const as = (cookie: string, path: string, kind: 'navigate' | 'api'): Promise<Reply> => {
    const b = new TestBrowser();
    b.cookies(new URL(s.url).host).set('gatehouse', cookie);
    return b.request(`${s.url}${path}`, { kind });
  };
  const storedRecord = async (key: string): Promise<SessionRecord> =>
    JSON.parse((await redis.hget(hashKey(key), 'd'))!) as SessionRecord;
  /** HSET d with redis-cli, then PUBLISH the invalidation (as an attacker would, to beat the L1 cache). */
  const overwrite = async (key: string, json: string) => {
    await cli('HSET', hashKey(key), 'd', json);
    const dropped = new Promise<void>((resolve) => {
      const on = (k: string | undefined) => {
        if (k === key) {
          store.events.off('invalidate', on);
          resolve();
        }
      };
      store.events.on('invalidate', on);
    });
    await cli('PUBLISH', store.inner.keys.invalidateChannel, key);
    await dropped;
  };
  const rejected = async (reason: string) =>
    (await s.gw.metrics.recordsRejected.get()).values
      .filter((v) => v.labels.reason === reason)
      .reduce((a, v) => a + v.value, 0);
  /** Bob on the edited record: /admin and / as a navigation (→ login) and as an API call (→ 401). */
  const assertBobRefused = async (what: string) => {
    for (const path of ['/admin', '/admin/panel', '/']) {
      const nav = await as(cookies.bob, path, 'navigate');
      assert.equal(nav.status, 302, `${what}: navigation to ${path} → login, got ${nav.status} ${nav.body}`);
      assert.ok(nav.location?.startsWith(s.idp.issuer), `${what}: redirected to the IdP (${nav.location})`);
      const api = await as(cookies.bob, path, 'api');
      assert.equal(api.status, 401, `${what}: API call to ${path} → 401, got ${api.status} ${api.body}`);
      assert.match(String(api.headers['set-cookie']), /gatehouse=;/, 'the session cookie is cleared');
      for (const r of [nav, api])
        assert.ok(!r.body.includes('alice'), 'nothing of the record reaches the client');
    }
  };

  before(async () => {
    redis = await requireRedis();
    s = await startStack({
      config: {
        session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix },
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
        headers: { passAccessToken: true },
        logging: { level: 'info' },
      } as never,
    });
    store = s.gw.store as CachedStore<RedisStore>;
    for (const user of ['alice', 'bob'] as const) {
      const b = new TestBrowser();
      const hops = await login(s, b, { path: '/', user });
      assert.equal(hops.at(-1)!.status, 200, `${user} logged in`);
      cookies[user] = b.cookie(s.url, 'gatehouse')!;
      keys[user] = s.gw.engine.ctx.sessions.codec.open(cookies[user])!;
      assert.ok(keys[user]);
    }
  });
  after(async () => {
    await s?.close();
    if (redis) await dropPrefix(redis, prefix);
    redis?.disconnect();
  });

  it('before any edit: alice reaches /admin, bob gets 403', async () => {
    assert.equal((await as(cookies.alice, '/admin', 'api')).status, 200);
    assert.equal((await as(cookies.bob, '/admin', 'api')).status, 403);
    assert.equal((await as(cookies.bob, '/', 'api')).status, 200);
  });

  it("bob's record edited to alice's identity and groups: no session (login / 401), never 200; counted, logged without content", async () => {
    const original = await redis.hget(hashKey(keys.bob), 'd');
    const alice = await storedRecord(keys.alice);
    const forged = await storedRecord(keys.bob);
    forged.sub = alice.sub;
    forged.identity = alice.identity;
    const mark = s.logs.length;

    await overwrite(keys.bob, JSON.stringify(forged));
    await assertBobRefused('identity edited');

    assert.equal(await rejected('invalid'), 6, 'every refused request is counted');
    const warns = s.logs
      .slice(mark)
      .filter((l) => l.level === 40 && String(l.msg).includes('failed verification'));
    assert.ok(warns.length >= 1, 'a warning was logged');
    for (const w of warns) {
      assert.equal(w.session, keys.bob.slice(0, 12));
      assert.equal(w.reason, 'invalid');
      const text = JSON.stringify(w);
      for (const needle of ['alice', 'admins', 'usr_', forged.tokens, keys.bob])
        assert.ok(!text.includes(needle), `the log line carries no ${needle}`);
    }
    // alice's own session is unaffected
    assert.equal((await as(cookies.alice, '/admin', 'api')).status, 200);

    // Putting bob's own record back restores his session: the refusal was the edit, nothing else.
    await overwrite(keys.bob, original!);
    assert.equal((await as(cookies.bob, '/', 'api')).status, 200);
    assert.equal((await as(cookies.bob, '/admin', 'api')).status, 403);
  });

  it("alice's sealed token blob moved into bob's record: no session, alice's token never reaches the upstream", async () => {
    const alice = await storedRecord(keys.alice);
    const swapped = await storedRecord(keys.bob);
    swapped.tokens = alice.tokens;
    const aliceToken = (await as(cookies.alice, '/', 'api')).json<{ headers: Record<string, string> }>()
      .headers['x-forwarded-access-token'];
    assert.ok(aliceToken, "alice's access token is forwarded (passAccessToken)");
    const hitsBefore = s.upstream.hits;

    await overwrite(keys.bob, JSON.stringify(swapped));
    await assertBobRefused('token blob swapped');

    assert.equal(await rejected('invalid'), 12, 'six more refused requests');
    assert.equal(s.upstream.hits, hitsBefore, "no request on bob's cookie reached the upstream");
  });

  it('a record whose tokens were sealed before v3 (v2, JSON) still serves and forwards its access token', async () => {
    const current = await storedRecord(keys.alice);
    assert.match(current.tokens, /^v3\.[A-Za-z0-9_-]+$/, 'Redis keeps the text form of v3');
    const sessions = s.gw.engine.ctx.sessions;
    const tokens = sessions.tokens((await sessions.store.get(keys.alice, { fresh: true }))!);
    // What the previous release wrote: the token set's JSON sealed as v2, the record MACed around it.
    const keysInForce = sessions.store.authenticator;
    const v2 = keysInForce.sealer.seal(JSON.stringify(tokens), keys.alice);
    await overwrite(keys.alice, JSON.stringify(keysInForce.sign(keys.alice, { ...current, tokens: v2 })));
    const reply = await as(cookies.alice, '/admin', 'api');
    assert.equal(reply.status, 200, `${reply.status} ${reply.body}`);
    assert.equal(
      reply.json<{ headers: Record<string, string> }>().headers['x-forwarded-access-token'],
      tokens.accessToken,
    );
    assert.match((await storedRecord(keys.alice)).tokens, /^v2\./, 'a read rewrites nothing');
  });

  it('a record stripped of its MAC (as written before this release) is no session too', async () => {
    const legacy = await storedRecord(keys.alice);
    delete legacy.mac;
    await overwrite(keys.alice, JSON.stringify(legacy));
    assert.equal((await as(cookies.alice, '/admin', 'api')).status, 401);
    assert.equal((await as(cookies.alice, '/admin', 'navigate')).status, 302);
    assert.equal(await rejected('unsigned'), 2);
  });

  it('a record that is not JSON, or not an object, is no session (malformed), never a 500', async () => {
    let n = 0;
    for (const junk of ['not json {', 'null', '5', '[]', '"x"', '{}']) {
      await overwrite(keys.alice, junk);
      const api = await as(cookies.alice, '/admin', 'api');
      assert.equal(api.status, 401, `${junk}: ${api.status} ${api.body}`);
      n++;
    }
    assert.equal(await rejected('malformed'), n);
    const logged = s.logs.filter((l) => l.reason === 'malformed');
    assert.ok(logged.length >= 1);
    assert.ok(!JSON.stringify(logged).includes('not json'), 'no content in the log');
  });
});
