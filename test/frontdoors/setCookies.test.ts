import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../src/config/schema.js';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { Engine } from '../../src/engine/engine.js';
import type { RequestFacts } from '../../src/engine/facts.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import gatehouseFastify from '../../src/http/fastify.js';
import { createGatehouseMiddleware, type GatehouseMiddleware } from '../../src/index.js';
import { createLogger } from '../../src/util/log.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';
import { DOOR_CONFIG } from './helpers.js';

/** What the application sets itself, on every door. */
const APP_COOKIES = ['app=1; Path=/', 'theme=dark; Path=/'];
/** What the decision carries (no decision does today: the engine is made to, below). */
const OURS = 'gatehouse_probe=renewed; Path=/; HttpOnly';

async function listening(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function closed(server: Server): Promise<void> {
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
}

/**
 * An allow decision's own Set-Cookie values reach the browser through every front door, after the
 * application's and never instead of them (the doors used to disagree: the middleware appended,
 * forward-auth set, the reverse proxy dropped them). A skip-auth path is allowed without a session.
 */
describe('allow.setCookies at every front door', () => {
  const check = Engine.prototype.check;
  let idp: DevIdp;
  let upstream: Server;
  let gw: Gateway;
  let gwUrl: string;
  let mw: GatehouseMiddleware;
  let mwApp: Server;
  let mwUrl: string;
  let fastify: FastifyInstance;
  let fastifyUrl: string;

  before(async () => {
    Engine.prototype.check = async function (this: Engine, f: RequestFacts) {
      const d = await check.call(this, f);
      return d.type === 'allow' ? { ...d, setCookies: [...d.setCookies, OURS] } : d;
    };
    idp = await startDevIdp({ port: 0, quiet: true });
    upstream = createServer((_req, res) => {
      res.setHeader('set-cookie', APP_COOKIES);
      res.end('app');
    });
    const upstreamUrl = await listening(upstream);
    const port = await freePort();
    const cfg: GatehouseConfig = loadConfig({
      object: {
        ...DOOR_CONFIG,
        logging: { level: 'warn' },
        listen: `127.0.0.1:${port}`,
        publicUrl: `http://127.0.0.1:${port}`,
        upstream: upstreamUrl,
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret: TEST_SECRET },
      },
      env: {},
    });
    const logger = createLogger('silent');
    gw = await createGateway(cfg, { logger });
    gwUrl = await gw.listen();
    mw = createGatehouseMiddleware(cfg, { store: gw.store, logger });
    mwApp = createServer((req, res) =>
      mw.handler(req, res, () => {
        // Set after the middleware ran, replacing whatever Set-Cookie was on the response.
        res.setHeader('set-cookie', APP_COOKIES);
        res.end('app');
      }),
    );
    mwUrl = await listening(mwApp);
    fastify = Fastify();
    await fastify.register(gatehouseFastify, { config: cfg, store: gw.store, logger });
    fastify.get('/*', async (_request, reply) => {
      for (const c of APP_COOKIES) reply.header('set-cookie', c);
      return 'app';
    });
    fastifyUrl = await fastify.listen({ port: 0, host: '127.0.0.1' });
    await Promise.all([gw.discovered, mw.ready, fastify.gatehouse.ready]);
  });
  after(async () => {
    Engine.prototype.check = check;
    await fastify?.close();
    if (mwApp) await closed(mwApp);
    await mw?.close();
    await gw?.close();
    if (upstream) await closed(upstream);
    await idp?.stop();
  });

  async function setCookiesOf(url: string, headers: Record<string, string> = {}) {
    const r = await request(url, { headers: { accept: 'application/json', ...headers } });
    await r.body.text();
    assert.ok(r.statusCode < 300, `${url}: ${r.statusCode}`);
    return r.headers['set-cookie'];
  }

  it('reverse proxy, middleware and Fastify: the application’s cookies, then the decision’s', async () => {
    for (const base of [gwUrl, mwUrl, fastifyUrl]) {
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(await setCookiesOf(`${base}/public/x`), [...APP_COOKIES, OURS], base);
      }
    }
    // Ours were not pushed onto the application's own array (Node's appendHeader would).
    assert.deepEqual(APP_COOKIES, ['app=1; Path=/', 'theme=dark; Path=/']);
  });

  it('forward-auth: the decision’s cookies are in the answer the proxy copies', async () => {
    const described = {
      'x-original-uri': '/public/x',
      'x-forwarded-method': 'GET',
      'x-forwarded-host': new URL(gwUrl).host,
      'x-forwarded-proto': 'http',
    };
    for (const path of ['/oauth2/auth', '/oauth2/forward-auth']) {
      assert.equal(await setCookiesOf(`${gwUrl}${path}`, described), OURS, path);
    }
  });
});
