import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { TestBrowser } from '../helpers/browser.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { freePort, type GatewayUnderTest, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './helpers.js';

/**
 * Front-channel logout across replicas (issue 10 item 5): the provider's iframe reaches replica B;
 * the session, warm in replica A's in-process cache, ends there too.
 */
describe('redis: front-channel logout received by one replica ends the session on the other', () => {
  let redis: Redis;
  const prefix = uniquePrefix('fcl');
  let upstream: EchoUpstream;
  let idp: Awaited<ReturnType<typeof startTestIdp>>;
  const gws: GatewayUnderTest[] = [];

  before(async () => {
    redis = await requireRedis();
    const [portA, portB] = [await freePort(), await freePort()];
    idp = await startTestIdp({
      frontchannelLogoutUri: `http://127.0.0.1:${portB}/oauth2/frontchannel-logout`,
    });
    upstream = await startEchoUpstream();
    const publicUrl = `http://127.0.0.1:${portA}`;
    for (const port of [portA, portB]) {
      gws.push(
        await startGateway({
          issuer: idp.issuer,
          upstream: upstream.url,
          port,
          publicUrl,
          config: {
            session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix },
            logging: { level: 'info' },
          },
        }),
      );
    }
  });

  after(async () => {
    for (const g of gws) await g.close();
    await upstream?.close();
    await idp?.stop();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  });

  it('the iframe on replica B ends the session replica A serves from its cache', async () => {
    const [a, b] = gws as [GatewayUnderTest, GatewayUnderTest];
    const browser = new TestBrowser();
    const hops = await browser.follow(`${a.url}/warm`);
    assert.equal(hops.at(-1)?.status, 200);
    const onA = () => browser.request(`${a.url}/x`, { kind: 'api' });
    assert.equal((await onA()).status, 200);
    assert.equal((await onA()).status, 200); // warm in A's L1 cache
    const page = await browser.request(`${idp.issuer}/end-session`);
    const src = /<iframe class="rp-logout" src="([^"]+)"/.exec(page.body)?.[1]?.replaceAll('&#38;', '&');
    assert.ok(src?.startsWith(`${b.url}/oauth2/frontchannel-logout?`), src);
    assert.equal((await new TestBrowser().request(src!)).status, 200);
    assert.ok(b.logs.some((l) => l.msg === 'front-channel logout' && l.ended === 1));
    // A hears of it through the store's invalidation channel: poll until its answer changes.
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      status = (await onA()).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, 401, 'replica A no longer serves the session');
  });
});
