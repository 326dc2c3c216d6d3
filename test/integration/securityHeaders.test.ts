import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { type Stack, startStack } from '../helpers/stack.js';

/** An upstream that sets its own X-Frame-Options and HSTS on /own, nothing elsewhere. */
async function startApp(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url?.endsWith('/own')) {
      res.setHeader('x-frame-options', 'DENY');
      res.setHeader('strict-transport-security', 'max-age=60');
    }
    res.end('app');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const get = (url: string) => new TestBrowser().request(url, { kind: 'api' });

describe('securityHeaders on upstream responses (reverse proxy)', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  const stacks: Stack[] = [];
  const stack = async (config: Record<string, unknown>, https = false) => {
    const s = await startStack({
      config: { skipAuth: ['/public'], upstream: app.url, ...config } as never,
      ...(https ? { publicUrlOverride: 'https' as const } : {}),
    });
    stacks.push(s);
    return s;
  };
  before(async () => {
    app = await startApp();
  });
  after(async () => {
    for (const s of stacks) await s.close();
    await app.close();
  });

  it('off by default: the response is the application’s', async () => {
    const s = await stack({});
    const r = await get(`${s.url}/public/x`);
    assert.equal(r.status, 200);
    for (const h of ['strict-transport-security', 'x-content-type-options', 'x-frame-options'])
      assert.equal(r.headers[h], undefined, h);
  });

  it('on, publicUrl https: HSTS, nosniff and SAMEORIGIN, never overriding what the app set', async () => {
    const s = await stack({ securityHeaders: { enabled: true } }, true);
    const r = await get(`${s.url}/public/x`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['x-frame-options'], 'SAMEORIGIN');
    const own = await get(`${s.url}/public/own`);
    assert.equal(own.headers['x-frame-options'], 'DENY');
    assert.equal(own.headers['strict-transport-security'], 'max-age=60');
    assert.equal(own.headers['x-content-type-options'], 'nosniff');
  });

  it('on, publicUrl http: no HSTS; sub-keys choose the values', async () => {
    const s = await stack({
      securityHeaders: {
        enabled: true,
        frameOptions: 'DENY',
        noSniff: false,
        hsts: 'max-age=600; includeSubDomains',
      },
    });
    const r = await get(`${s.url}/public/x`);
    assert.equal(r.headers['strict-transport-security'], undefined);
    assert.equal(r.headers['x-content-type-options'], undefined);
    assert.equal(r.headers['x-frame-options'], 'DENY');
  });
});
