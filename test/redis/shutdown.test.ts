import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { copyCookies, dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './helpers.js';

/**
 * A rolling deploy stops a replica while a request waits for a refresh. With rotation the IdP has
 * already spent the old refresh token when the grant is under way, so the replica must finish it,
 * store the new tokens and answer the request before it exits — or the user is logged out at the
 * next refresh, wherever it happens.
 */
describe('graceful shutdown (real Redis)', () => {
  const prefix = uniquePrefix('shutdown');
  let redis: Redis;
  let idp: DevIdp;
  const stacks: Stack[] = [];

  before(async () => {
    redis = await requireRedis();
    idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice', tokenDelayMs: 800 });
  });
  after(async () => {
    for (const s of stacks) await s.close();
    await idp?.stop();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  const config = {
    session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix },
    refresh: { graceSeconds: 0 },
  };

  it('a request waiting for a refresh at shutdown is answered, and the rotated token survives for the next replica', async () => {
    const clock = new ManualClock();
    const first = await startStack({ idpInstance: idp, clock, config: config as never });
    stacks.push(first);
    const b = new TestBrowser();
    assert.equal((await login(first, b)).at(-1)!.status, 200);

    clock.advance(301_000); // the access token has expired: the next request waits for a refresh
    idp.setProfiles(['token-endpoint-slow']); // the grant takes 0.8 s
    idp.reset();
    const waiting = b.request(`${first.url}/during-shutdown`, { kind: 'api' });
    await until(() => first.gw.refresh.pending === 1, 'the refresh to start');
    const closed = first.gw.close(); // SIGTERM

    const answer = await waiting;
    assert.equal(answer.status, 200, 'answered, not reset');
    assert.equal(answer.headers.connection, 'close', 'the client is told to reconnect elsewhere');
    await closed;
    assert.equal(idp.stats().grants.refresh_token, 1);
    await assert.rejects(b.request(`${first.url}/after`, { kind: 'api' }), 'no longer listening');

    // The next replica (same Redis) sees the renewed session; its next refresh uses the new token.
    idp.setProfiles([]);
    const second = await startStack({ idpInstance: idp, clock, config: config as never });
    stacks.push(second);
    copyCookies(b, first.url, second.url);
    assert.equal((await b.request(`${second.url}/fresh`, { kind: 'api' })).status, 200);
    assert.equal(idp.stats().grants.refresh_token, 1, 'no grant: the stored token is fresh');
    clock.advance(301_000);
    assert.equal((await b.request(`${second.url}/next-expiry`, { kind: 'api' })).status, 200);
    assert.equal(idp.stats().grants.refresh_token, 2);
    assert.deepEqual(idp.stats().errors, {}, 'no invalid_grant: the rotated token was not lost');
  });

  it('a background refresh under way at shutdown is finished and stored before the store closes', async () => {
    const clock = new ManualClock();
    const cfg = { ...config, refresh: { graceSeconds: 60 } };
    const first = await startStack({ idpInstance: idp, clock, config: cfg as never });
    stacks.push(first);
    const b = new TestBrowser();
    assert.equal((await login(first, b)).at(-1)!.status, 200);

    clock.advance(270_000); // inside the grace window: answered at once, refreshed in the background
    idp.setProfiles(['token-endpoint-slow']);
    idp.reset();
    assert.equal((await b.request(`${first.url}/grace`, { kind: 'api' })).status, 200);
    assert.equal(first.gw.refresh.pending, 1, 'a background refresh is under way');
    await first.gw.close(); // no request in flight: only the refresh holds the shutdown
    assert.equal(idp.stats().grants.refresh_token, 1);

    idp.setProfiles([]);
    const second = await startStack({ idpInstance: idp, clock, config: cfg as never });
    stacks.push(second);
    copyCookies(b, first.url, second.url);
    clock.advance(60_000); // past the old token's expiry: the renewed one (stored) is still fresh
    assert.equal((await b.request(`${second.url}/fresh`, { kind: 'api' })).status, 200);
    assert.equal(idp.stats().grants.refresh_token, 1, 'the background result was stored');
    clock.advance(300_000);
    assert.equal((await b.request(`${second.url}/next-expiry`, { kind: 'api' })).status, 200);
    assert.equal(idp.stats().grants.refresh_token, 2);
    assert.deepEqual(idp.stats().errors, {}, 'no invalid_grant');
  });
});
