import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../../src/session/record.js';
import type { CachedStore } from '../../src/store/cachedStore.js';
import type { RedisStore } from '../../src/store/redisStore.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { dropPrefix, REDIS_URL, requireRedis, run, uniquePrefix } from './helpers.js';

/**
 * The claims a session keeps for `headers.templates` live in its Redis record, under its MAC: they
 * survive the store round trip, and a record whose kept claims were edited with `redis-cli` is no
 * session — the edited value never reaches the upstream.
 */
describe('templated headers from a Redis-held session (real Redis, redis-cli HSET)', () => {
  const prefix = uniquePrefix('templates');
  let redis: Redis;
  let s: Stack;
  let store: CachedStore<RedisStore>;
  let cookie = '';
  let key = '';

  const hashKey = () => store.inner.keys.session(key);
  const cli = (...args: string[]) => run('redis-cli', ['-u', REDIS_URL, ...args]);
  const get = () => {
    const b = new TestBrowser();
    b.cookies(new URL(s.url).host).set('gatehouse', cookie);
    return b.request(`${s.url}/x`, { kind: 'api' });
  };
  /** HSET d with redis-cli, then PUBLISH the invalidation so that no cache hides the edit. */
  const overwrite = async (json: string) => {
    await cli('HSET', hashKey(), 'd', json);
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

  before(async () => {
    redis = await requireRedis();
    s = await startStack({
      config: {
        session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix },
        headers: { templates: { 'X-User-Email': '{{claims.email}}', 'X-Tenant': '{{claims.tid}}' } },
        logging: { level: 'info' },
      } as never,
    });
    store = s.gw.store as CachedStore<RedisStore>;
    s.idp.setClaims({ user: 'alice', claims: { tid: 'tenant-1' }, logins: 1 });
    const b = new TestBrowser();
    assert.equal((await login(s, b, { user: 'alice' })).at(-1)!.status, 200);
    cookie = b.cookie(s.url, 'gatehouse')!;
    key = s.gw.engine.ctx.sessions.codec.open(cookie)!;
  });
  after(async () => {
    await s?.close();
    if (redis) await dropPrefix(redis, prefix);
    redis?.disconnect();
  });

  it('the record in Redis holds exactly the claims the templates read; the headers render from it', async () => {
    const rec = JSON.parse((await redis.hget(hashKey(), 'd'))!) as SessionRecord;
    assert.deepEqual(rec.claims, { email: 'alice@example.com', tid: 'tenant-1' });
    const r = await get();
    assert.equal(r.status, 200, r.body);
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h['x-tenant'], 'tenant-1');
  });

  it('a kept claim edited in Redis: no session, the edited value never reaches the upstream', async () => {
    const original = (await redis.hget(hashKey(), 'd'))!;
    const forged = JSON.parse(original) as SessionRecord;
    forged.claims = { ...forged.claims, tid: 'tenant-2' };
    const hits = s.upstream.hits;
    await overwrite(JSON.stringify(forged));
    assert.equal((await get()).status, 401);
    assert.equal(s.upstream.hits, hits);
    await overwrite(original);
    const r = await get();
    assert.equal(r.status, 200);
    assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-tenant'], 'tenant-1');
  });
});
