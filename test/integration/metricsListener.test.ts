import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { createGatehouseMiddleware } from '../../src/index.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { freePort, login, type Stack, startStack, TEST_SECRET } from '../helpers/stack.js';

/** GET with the request target sent exactly as written (no URL normalisation on our side). */
function rawGet(base: string, target: string, headers: Record<string, string> = {}) {
  const u = new URL(base);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, path: target, headers: { accept: 'application/json', ...headers } },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const METRICS = /gatehouse_requests_total/;

/** Item 8 of issue 8: metrics are served only on `metrics.listen`, never on the public port. */
describe('metrics: off by default, never on the public port', () => {
  let s: Stack;
  let cookie: string;
  before(async () => {
    s = await startStack();
    const b = new TestBrowser();
    await login(s, b);
    cookie = `gatehouse=${b.cookie(s.url, 'gatehouse')}`;
  });
  after(() => s.close());

  it('no metrics listener without metrics.listen', () => {
    assert.equal(s.cfg.metrics.listen, undefined);
    assert.equal(s.gw.metricsUrl, undefined);
  });

  it('the public port answers 404 for /oauth2/metrics, to loopback clients and signed-in users too', async () => {
    for (const headers of [{}, { cookie }] as Record<string, string>[]) {
      const r = await rawGet(s.url, '/oauth2/metrics', headers);
      assert.equal(r.status, 404, r.body);
      assert.equal(JSON.parse(r.body).error, 'not_found');
      assert.doesNotMatch(r.body, METRICS);
    }
    const page = await new TestBrowser().request(`${s.url}/oauth2/metrics`);
    assert.equal(page.status, 404);
    assert.match(String(page.headers['content-type']), /text\/html/);
  });

  it('no spelling of it reaches the metrics, and none is a 5xx', async () => {
    const spellings = [
      '/oauth2/metrics/',
      '/oauth2/metrics?x=1',
      '/oauth2//metrics',
      '/oauth2/./metrics',
      '/oauth2/x/../metrics',
      '/oauth2/%6detrics',
      '/oauth2%2fmetrics',
      '/oauth2/\\metrics',
      '/oauth2/%5cmetrics',
      '/OAUTH2/metrics',
      '/oauth2/Metrics',
      '//oauth2/metrics',
      '/metrics',
    ];
    for (const target of spellings) {
      for (const headers of [{}, { cookie }] as Record<string, string>[]) {
        const r = await rawGet(s.url, target, headers);
        assert.ok(r.status < 500, `${target}: ${r.status}`);
        assert.doesNotMatch(r.body, METRICS, `${target} served the metrics`);
      }
    }
  });

  it('any other unknown /oauth2/ path is 404 too and never reaches the application', async () => {
    const hits = s.upstream.hits;
    const r = await rawGet(s.url, '/oauth2/nope', { cookie });
    assert.equal(r.status, 404);
    assert.equal(s.upstream.hits, hits);
  });
});

describe('metrics: served on metrics.listen', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { metrics: { listen: '127.0.0.1:0' } } as never });
  });
  after(() => s.close());

  it('GET /metrics (and /oauth2/metrics) on the metrics listener; 404 elsewhere, 405 for POST', async () => {
    const m = s.gw.metricsUrl;
    assert.ok(m, 'metrics listener started by listen()');
    assert.notEqual(new URL(m).port, new URL(s.url).port);
    await new TestBrowser().request(`${s.url}/healthz`, { kind: 'api' });
    for (const path of ['/metrics', '/oauth2/metrics']) {
      const r = await fetch(`${m}${path}`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(await r.text(), /gatehouse_requests_total\{decision="health"\} 1/);
    }
    assert.equal((await fetch(`${m}/`)).status, 404);
    assert.equal((await fetch(`${m}/metrics`, { method: 'POST' })).status, 405);
    // ... and still not on the public port.
    assert.equal((await rawGet(s.url, '/oauth2/metrics')).status, 404);
  });

  it('close() closes the metrics listener', async () => {
    const other = await startStack({ config: { metrics: { listen: '127.0.0.1:0' } } as never });
    const m = other.gw.metricsUrl!;
    assert.equal((await fetch(`${m}/metrics`)).status, 200);
    await other.close();
    await assert.rejects(fetch(`${m}/metrics`));
  });

  it('a taken metrics port fails listen() and leaves the public port closed', async () => {
    const taken = new URL(s.gw.metricsUrl!).port;
    const publicPort = await freePort();
    const cfg = loadConfig({
      object: { ...s.cfg, listen: `127.0.0.1:${publicPort}`, metrics: { listen: `127.0.0.1:${taken}` } },
      env: {},
    });
    const gw = await createGateway(cfg, { logger: createLogger('silent') });
    try {
      await assert.rejects(gw.listen(), /EADDRINUSE/);
      assert.equal(gw.server.listening, false);
      assert.equal(gw.metricsUrl, undefined);
    } finally {
      await gw.close();
    }
  });
});

describe('metrics: the middleware starts the same listener', () => {
  it('with metrics.listen the middleware serves /metrics on it, and close() stops it', async () => {
    const s = await startStack();
    try {
      const mw = createGatehouseMiddleware(
        {
          publicUrl: 'http://127.0.0.1:1',
          provider: { issuer: s.idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
          session: { secret: TEST_SECRET },
          metrics: { listen: '127.0.0.1:0' },
        },
        { env: {}, logger: createLogger('silent') },
      );
      await mw.ready;
      const m = mw.metricsUrl;
      assert.ok(m);
      const r = await fetch(`${m}/metrics`);
      assert.equal(r.status, 200);
      assert.match(await r.text(), /gatehouse_refresh_total/);
      await mw.close();
      await assert.rejects(fetch(`${m}/metrics`));
    } finally {
      await s.close();
    }
  });
});
