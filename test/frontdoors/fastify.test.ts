import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError } from '../../src/config/load.js';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import gatehouse from '../../src/http/fastify.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';
import { type EmbeddedDoor, embeddedDoorSuite, FRAMED_PATH } from './embeddedSuite.js';
import { DOOR_CONFIG } from './helpers.js';

/** A Fastify app behind the plugin: one catch-all route echoes what reached it. */
export const fastifyDoor: EmbeddedDoor = {
  normalisedPath: 'redirected',
  refusedByRouter: ['/public/%u002e%u002e/admin'],
  async start(config, port) {
    const app = Fastify();
    await app.register(gatehouse, { config, env: {}, logger: createLogger('silent') });
    let calls = 0;
    app.all('/*', async (request, reply) => {
      calls++;
      if (request.url === FRAMED_PATH) return reply.header('x-frame-options', 'DENY').send('ok');
      return {
        url: request.url,
        headers: request.headers,
        rawHeaders: request.raw.rawHeaders,
        headersDistinct: request.raw.headersDistinct,
        gatehouse: request.gatehouse ?? null,
      };
    });
    await app.listen({ port, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${port}`,
      calls: () => calls,
      ready: app.gatehouse.ready,
      close: () => app.close(),
    };
  },
};

embeddedDoorSuite('gatehouse/fastify (real Fastify)', fastifyDoor);

describe('gatehouse/fastify: registration', () => {
  it('a bad configuration fails the registration with ConfigError, naming the key', async () => {
    const app = Fastify();
    app.register(gatehouse, {
      config: {
        publicUrl: 'http://127.0.0.1:1',
        provider: { issuer: 'http://127.0.0.1:2', clientId: 'x', clientSecret: 'y' },
        session: { secret: 'too-short' },
      },
      env: {},
    });
    await assert.rejects(
      async () => {
        await app.ready();
      },
      (err: unknown) =>
        err instanceof ConfigError && /session\.secret: must be at least 32/.test(err.message),
    );
  });
});

describe('gatehouse/fastify: hooks on the whole application', () => {
  let idp: DevIdp;
  let app: FastifyInstance;
  let url: string;
  let routed: string[];

  before(async () => {
    idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    routed = [];
    app = Fastify();
    await app.register(gatehouse, {
      config: {
        ...DOOR_CONFIG,
        logging: { level: 'warn' },
        publicUrl: url,
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret: TEST_SECRET },
      },
      env: {},
      logger: createLogger('silent'),
    });
    // No catch-all: Gatehouse must still answer /oauth2/* and guard paths no route serves.
    app.get('/public/page', async (request) => {
      routed.push(request.url);
      return { url: request.url };
    });
    app.post('/public/form', async (request) => {
      routed.push(request.url);
      return 'posted';
    });
    // An encapsulated child context with a prefix: guarded too (the plugin is not encapsulated).
    await app.register(
      async (child) => {
        child.get('/data', async () => {
          routed.push('/api/data');
          return { secret: true };
        });
      },
      { prefix: '/api' },
    );
    await app.listen({ port, host: '127.0.0.1' });
    await app.gatehouse.ready;
  });
  after(async () => {
    await app?.close();
    await idp?.stop();
  });

  it('serves /oauth2/* without a route for it, and guards paths no route serves', async () => {
    const start = await new TestBrowser().request(`${url}/oauth2/start?rd=%2Fpublic%2Fpage`);
    assert.equal(start.status, 302);
    assert.ok(start.location!.startsWith(`${idp.issuer}/authorize`));
    const nowhere = await new TestBrowser().request(`${url}/nowhere`, { kind: 'api' });
    assert.equal(nowhere.status, 401, 'Gatehouse, not the 404 handler, answers first');
    assert.equal(nowhere.json().error, 'no_session');
    const unknown = await new TestBrowser().request(`${url}/oauth2/nothing`, { kind: 'api' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json().error, 'not_found');
    // allowed, but no route: Fastify's own 404
    const open = await new TestBrowser().request(`${url}/public/nowhere`, { kind: 'api' });
    assert.equal(open.status, 404);
    assert.deepEqual(routed, []);
  });

  it('guards the routes of an encapsulated child context', async () => {
    const r = await new TestBrowser().request(`${url}/api/data`, { kind: 'api' });
    assert.equal(r.status, 401);
    assert.deepEqual(routed, []);
    const b = new TestBrowser();
    const hops = await b.follow(`${url}/oauth2/start?rd=%2Fapi%2Fdata`);
    assert.equal(hops.at(-1)!.status, 200);
    assert.deepEqual(hops.at(-1)!.json(), { secret: true });
    assert.deepEqual(routed, ['/api/data']);
    routed.length = 0;
  });

  it('an allowed target that normalises differently: GET redirected to the decided one, POST refused', async () => {
    const get = await rawRequest(url, '/public//page?q=1', { Accept: 'application/json' });
    assert.equal(get.status, 302);
    assert.equal(get.headers.location, '/public/page?q=1');
    const post = await rawRequest(url, '/public/./form', { Accept: 'application/json' }, 'POST');
    assert.equal(post.status, 400, post.body);
    assert.match(post.json<{ reason: string }>().reason, /send it to \/public\/form/);
    assert.deepEqual(routed, [], 'no route ran on a target other than the one decided on');
    const followed = await new TestBrowser().request(`${url}/public/page?q=1`, { kind: 'api' });
    assert.equal(followed.json().url, '/public/page?q=1');
  });
});
