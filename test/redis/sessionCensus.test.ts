import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './helpers.js';

/**
 * gatehouse_sessions{refresh} on the Redis store (issue 14 part 2): a bounded SCAN of the shared
 * store when scraped — every replica's sessions, exact below the sample size — and reused for a
 * minute, so scrapes cost Redis nothing more.
 */
describe('gatehouse_sessions on the Redis store (real Redis)', () => {
  const prefix = uniquePrefix('census');
  let redis: Redis;
  let s: Stack;

  before(async () => {
    redis = await requireRedis();
    s = await startStack({
      config: { session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix } },
    });
  });

  after(async () => {
    await s?.close();
    await dropPrefix(redis, prefix);
    redis?.disconnect();
  });

  const gauge = async () => {
    const text = await s.gw.metrics.registry.metrics();
    const value = (refresh: string) =>
      Number(new RegExp(`^gatehouse_sessions\\{refresh="${refresh}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { none: value('none'), ok: value('ok') };
  };

  it('counts the shared store’s sessions with and without a refresh token, then reuses the count', async () => {
    s.idp.setProfiles(['no-refresh-token']);
    assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
    s.idp.setProfiles([]);
    for (let i = 0; i < 2; i++) assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
    assert.equal((await redis.keys(`${prefix}s:*`)).length, 3);
    assert.deepEqual(await gauge(), { none: 1, ok: 2 });

    // Within a minute the count is reused, not re-scanned: a new session shows at the next census.
    assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
    assert.deepEqual(await gauge(), { none: 1, ok: 2 });
  });
});
