import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorizeClientId, describeHops, loginThrough } from '../helpers/dcr.js';
import { useTestIdp } from '../helpers/devIdp.js';
import {
  freePort,
  type GatewayUnderTest,
  type StackConfig,
  startGateway,
  TestBrowser,
} from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import { dropPrefix, REDIS_URL, requireRedis, uniquePrefix } from './helpers.js';

/**
 * Dynamic Client Registration with replicas on Redis (issue 10 item 6), against the dev IdP's
 * POST /register: replicas that start at the same moment register exactly one client (under
 * the store's lock), keep it sealed in Redis, and all log users in with it; the dev IdP's
 * back-channel logout, sent to the URI that one registration named, ends the session on every
 * replica.
 */
describe('Dynamic Client Registration: replicas on Redis, dev IdP', () => {
  const idp = useTestIdp();
  let upstream: EchoUpstream;
  const gateways: GatewayUnderTest[] = [];

  before(async () => {
    upstream = await startEchoUpstream();
  });
  after(async () => {
    for (const g of gateways) await g.close();
    await upstream.close();
  });

  it('two replicas starting together: exactly one registration; both log users in with that client', async () => {
    const redis = await requireRedis();
    const prefix = uniquePrefix('dcr-devidp');
    try {
      idp.reset();
      // The load balancer's address is replica a's own (so the IdP's back-channel call reaches a
      // replica); b listens elsewhere, and the browser's hops to publicUrl are sent to it.
      const publicPort = await freePort();
      const publicUrl = `http://127.0.0.1:${publicPort}`;
      const replica = async (port?: number) => {
        const g = await startGateway({
          issuer: idp.issuer,
          upstream: upstream.url,
          publicUrl,
          ...(port === undefined ? {} : { port }),
          config: {
            provider: { clientId: undefined, clientSecret: undefined, registration: {} },
            session: { store: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: prefix },
            logging: { level: 'info' },
          } as StackConfig,
        });
        gateways.push(g);
        return g;
      };
      const [a, b] = await Promise.all([replica(publicPort), replica()]);
      assert.equal(idp.stats().registrations, 1, 'exactly one registration at the dev IdP');
      const used = new Set<string | undefined>();
      const browsers: TestBrowser[] = [];
      for (const g of [a, b]) {
        const browser = new TestBrowser();
        const hops = await loginThrough(browser, g.url, publicUrl);
        assert.equal(hops.at(-1)?.status, 200, describeHops(hops));
        assert.equal(
          hops.at(-1)!.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'],
          'alice',
        );
        used.add(authorizeClientId(idp, hops));
        browsers.push(browser);
      }
      assert.equal(used.size, 1, 'both replicas use one client');
      const [clientId] = [...used];
      assert.match(String(clientId), /^dcr-/);
      // Kept in Redis, its secret sealed.
      const stored = await redis.get(`${prefix}shared:{client-registration}`);
      assert.ok(stored?.includes(String(clientId)));

      // Back-channel logout of alice's latest IdP session (the login through b) goes to the
      // backchannel_logout_uri of the registration (publicUrl: replica a); the session ends on
      // every replica.
      assert.deepEqual(await idp.backchannelLogout({ sub: 'usr_alice' }), { delivered: true, status: 200 });
      const bBrowser = browsers[1]!;
      // The same cookie at the other replica (one host name behind a load balancer).
      const elsewhere = new TestBrowser();
      for (const [k, v] of bBrowser.cookies(new URL(b.url).host))
        elsewhere.cookies(new URL(a.url).host).set(k, v);
      assert.equal((await bBrowser.request(`${b.url}/app`, { kind: 'api' })).status, 401);
      assert.equal((await elsewhere.request(`${a.url}/app`, { kind: 'api' })).status, 401, 'ended there too');
      // a's own login (another IdP session) is untouched.
      assert.equal((await browsers[0]!.request(`${a.url}/app`, { kind: 'api' })).status, 200);

      // A restarted replica reuses the registration.
      await a.close();
      const c = await replica(publicPort);
      assert.equal(idp.stats().registrations, 1);
      const hops = await loginThrough(new TestBrowser(), c.url, publicUrl);
      assert.equal(hops.at(-1)?.status, 200, describeHops(hops));
      assert.equal(authorizeClientId(idp, hops), clientId);
    } finally {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
