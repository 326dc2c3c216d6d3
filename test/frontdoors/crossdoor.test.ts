import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import gatehouseFastify from '../../src/http/fastify.js';
import {
  createGatehouseMiddleware,
  type GatehouseMiddleware,
  type GatehouseRequest,
} from '../../src/index.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/stack.js';
import { assertBearerRefused, SCOPED_PATH, tampered, userAccessToken } from './bearer.js';
import {
  type DoorStack,
  echoOf,
  loginThrough,
  type ProxyProcess,
  startCaddy,
  startDoorStack,
  startNginx,
} from './helpers.js';

/**
 * One Gatehouse, five ways in: nginx (auth_request), Caddy (forward_auth), its own reverse proxy,
 * a node:http app with the middleware and a Fastify app with the plugin, both sharing its store. A session made through one door is
 * the same session at every other, and a logout through one ends it everywhere.
 */

/** Cookies the way browsers keep them: per host, whatever the port (RFC 6265 §8.5). */
class Browser extends TestBrowser {
  override cookies(origin: string): Map<string, string> {
    return super.cookies(origin.replace(/:\d+$/, ''));
  }
}
describe('one session, every front door', () => {
  let s: DoorStack;
  let nginx: ProxyProcess;
  let caddy: ProxyProcess;
  let mw: GatehouseMiddleware;
  let app: Server;
  let appUrl: string;
  let fastify: FastifyInstance;
  let fastifyUrl: string;

  before(async () => {
    const nginxPort = await freePort();
    s = await startDoorStack(nginxPort); // publicUrl = nginx
    const upstreamPort = Number(new URL(s.upstream.url).port);
    nginx = await startNginx({ port: nginxPort, gatehousePort: s.gwPort, upstreamPort });
    caddy = await startCaddy({ port: await freePort(), gatehousePort: s.gwPort, upstreamPort });
    mw = createGatehouseMiddleware(s.cfg, { store: s.gw.store, logger: createLogger('silent') });
    app = createServer((req, res) =>
      mw.handler(req, res, () => {
        res.setHeader('content-type', 'application/json');
        const id = (req as GatehouseRequest).gatehouse;
        res.end(JSON.stringify({ url: req.url, headers: req.headers, gatehouse: id ?? null }));
      }),
    );
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    fastify = Fastify();
    await fastify.register(gatehouseFastify, {
      config: s.cfg,
      store: s.gw.store,
      logger: createLogger('silent'),
    });
    fastify.get('/*', async (request) => ({
      headers: request.headers,
      gatehouse: request.gatehouse ?? null,
    }));
    fastifyUrl = await fastify.listen({ port: 0, host: '127.0.0.1' });
    await Promise.all([mw.ready, fastify.gatehouse.ready]);
  });
  after(async () => {
    await nginx?.stop();
    await caddy?.stop();
    if (app) {
      await new Promise<void>((r) => {
        app.close(() => r());
        app.closeAllConnections();
      });
    }
    await mw?.close();
    await fastify?.close();
    await s?.close();
  });

  it('a session created through nginx works through Caddy, the reverse proxy, the middleware and Fastify; logout through Caddy ends it everywhere', async () => {
    const b = new Browser();
    const hops = await loginThrough(b, s.idp, `${nginx.url}/start-here`, 'bob');
    assert.equal(hops.at(-1)!.status, 200, nginx.output());

    const viaNginx = echoOf(await b.request(`${nginx.url}/whoami`, { kind: 'api' }), nginx);
    const viaCaddy = echoOf(await b.request(`${caddy.url}/whoami`, { kind: 'api' }), caddy);
    const viaProxy = echoOf(await b.request(`${s.gwUrl}/whoami`, { kind: 'api' }));
    const viaApp = (await b.request(`${appUrl}/whoami`, { kind: 'api' })).json<{
      headers: Record<string, string>;
      gatehouse: { user: string };
    }>();
    for (const e of [viaNginx, viaCaddy, viaProxy]) {
      assert.equal(e.headers['x-forwarded-user'], 'bob');
      assert.equal(e.headers['x-forwarded-groups'], 'dev');
    }
    const viaFastify = (await b.request(`${fastifyUrl}/whoami`, { kind: 'api' })).json<{
      headers: Record<string, string>;
      gatehouse: { user: string };
    }>();
    for (const e of [viaApp, viaFastify]) {
      assert.equal(e.gatehouse.user, 'bob');
      assert.equal(e.headers['x-forwarded-user'], 'bob');
    }
    // the same authorization everywhere
    for (const url of [nginx.url, caddy.url, s.gwUrl, appUrl, fastifyUrl]) {
      assert.equal((await b.request(`${url}/admin`, { kind: 'api' })).status, 403, url);
    }

    const cookie = b.cookie(nginx.url, 'gatehouse');
    // the user clicks the app's "Sign out" link: a same-origin GET
    const out = await b.follow(`${caddy.url}/oauth2/logout`, {
      max: 1,
      first: { headers: { 'sec-fetch-site': 'same-origin' } },
    });
    assert.equal(out[0]!.status, 302);
    assert.equal(b.cookie(nginx.url, 'gatehouse'), undefined, 'cookie cleared');
    for (const url of [nginx.url, caddy.url, s.gwUrl, appUrl, fastifyUrl]) {
      // replaying the old cookie: the record is gone from the shared store
      const r = await new Browser().request(`${url}/whoami`, {
        kind: 'api',
        headers: { cookie: `gatehouse=${cookie}` },
      });
      assert.equal(r.status, 401, `${url} after logout via Caddy`);
    }
  });

  it('one bearer token, every door: the same identity at nginx, Caddy, the reverse proxy, the middleware and Fastify; a bad one is 401 invalid_token at each', async () => {
    const token = await userAccessToken(s.idp, 'bob');
    const bad = tampered(token);
    const auth = (t: string) => ({ authorization: `Bearer ${t}` });
    const doors = [nginx.url, caddy.url, s.gwUrl, appUrl, fastifyUrl];
    for (const url of doors) {
      const r = await new Browser().request(`${url}/whoami`, { kind: 'navigate', headers: auth(token) });
      assert.equal(r.status, 200, `${url}: ${r.body}`);
      assert.equal(r.headers['set-cookie'], undefined, url);
      const seen = r.json<{ headers: Record<string, string> }>().headers;
      assert.equal(seen['x-forwarded-user'], 'bob', url);
      assert.equal(seen['x-forwarded-client-id'], 'gatehouse', url);
      assertBearerRefused(
        await new Browser().request(`${url}/whoami`, { kind: 'navigate', headers: auth(bad) }),
        401,
        'invalid_token',
        url,
      );
      assertBearerRefused(
        await new Browser().request(`${url}${SCOPED_PATH}/x`, { kind: 'api', headers: auth(token) }),
        403,
        'insufficient_scope',
        url,
      );
    }
  });

  it('a login started by the middleware is a session at nginx and Caddy; logout through the middleware ends it', async () => {
    const b = new Browser();
    const first = await b.request(`${appUrl}/reports`);
    assert.equal(first.status, 302, 'the middleware starts the login itself');
    assert.ok(first.location!.startsWith(`${s.idp.issuer}/authorize`));
    const hops = await loginThrough(b, s.idp, first.location!, 'alice');
    assert.equal(hops.at(-1)!.status, 200);
    const cookie = b.cookie(appUrl, 'gatehouse');
    assert.ok(cookie);
    for (const door of [nginx, caddy]) {
      assert.equal(
        echoOf(await b.request(`${door.url}/whoami`, { kind: 'api' }), door).headers['x-forwarded-user'],
        'alice',
      );
    }
    const out = await b.follow(`${appUrl}/oauth2/logout`, { max: 1, first: { method: 'POST' } });
    assert.equal(out[0]!.status, 303);
    for (const url of [nginx.url, caddy.url, s.gwUrl, fastifyUrl]) {
      const r = await new Browser().request(`${url}/whoami`, {
        kind: 'api',
        headers: { cookie: `gatehouse=${cookie}` },
      });
      assert.equal(r.status, 401, `${url}: the old cookie is dead after logout via the middleware`);
    }
  });
});
