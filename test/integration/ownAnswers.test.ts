import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { openRaw } from '../helpers/rawHttp.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { connect } from '../helpers/websocket.js';

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

function assertSecurityHeaders(headers: Reply['headers'], what: string, csp?: string) {
  const got = String(headers['content-security-policy'] ?? '');
  assert.match(got, /frame-ancestors 'none'/, `${what}: CSP ${got}`);
  if (csp) assert.equal(got, csp, what);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
}

/** Item 13 of issue 8: Gatehouse's own answers carry security headers; the upstream's are its own. */
describe("Gatehouse's own answers", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: { authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] } } as never,
    });
  });
  after(() => s.close());

  it('pages, JSON errors and redirects send CSP with frame-ancestors, nosniff and no-referrer', async () => {
    const b = new TestBrowser();
    const redirect = await b.request(`${s.url}/somewhere`);
    assert.equal(redirect.status, 302);
    assertSecurityHeaders(redirect.headers, 'redirect to sign-in');
    const json = await new TestBrowser().request(`${s.url}/api`, { kind: 'api' });
    assert.equal(json.status, 401);
    assertSecurityHeaders(json.headers, '401 JSON');
    const page = await b.request(`${s.url}/oauth2/signed-out`);
    assert.equal(page.status, 200);
    assertSecurityHeaders(page.headers, 'signed-out page', PAGE_CSP);
    const health = await b.request(`${s.url}/healthz`, { kind: 'api' });
    assertSecurityHeaders(health.headers, 'healthz');
    await login(s, b, { user: 'bob' });
    const denied = await b.request(`${s.url}/admin`);
    assert.equal(denied.status, 403);
    assertSecurityHeaders(denied.headers, '403 page', PAGE_CSP);
    // The upstream's own answers are passed on as they are (securityHeaders is a separate switch).
    const proxied = await b.request(`${s.url}/app`, { kind: 'api' });
    assert.equal(proxied.status, 200);
    assert.equal(proxied.headers['content-security-policy'], undefined);
  });

  it('a refused WebSocket upgrade (the raw answer) sends them too', async () => {
    const c = await openRaw(s.url);
    c.socket.write(
      'GET /live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await c.until(/\r\n\r\n/, 'the refusal');
    const head = c.received();
    assert.match(head, /^HTTP\/1\.1 401 /);
    assert.match(head, /\r\ncontent-security-policy: [^\r]*frame-ancestors 'none'/);
    assert.match(head, /\r\nx-content-type-options: nosniff\r\n/);
    assert.match(head, /\r\nreferrer-policy: no-referrer\r\n/);
    c.socket.destroy();
    // and a real client still reads it as a refusal
    assert.equal((await connect(`${s.url.replace('http:', 'ws:')}/live`, {})).status, 401);
  });

  it('a 100 KiB back-channel logout body is answered 413 JSON and the connection closed cleanly', async () => {
    const body = Buffer.alloc(100 * 1024, 'a');
    for (let i = 0; i < 3; i++) {
      const u = new URL(s.url);
      const r = await new Promise<{ status: number; headers: Reply['headers']; body: string }>(
        (resolve, reject) => {
          const req = httpRequest(
            {
              host: u.hostname,
              port: u.port,
              path: '/oauth2/backchannel-logout',
              method: 'POST',
              headers: {
                'content-type': 'application/x-www-form-urlencoded',
                'content-length': body.length,
              },
            },
            (res) => {
              // A reset after the headers would otherwise leave this promise pending forever.
              res.on('error', reject);
              res.on('aborted', () => reject(new Error('the answer was cut off (connection reset)')));
              let text = '';
              res.on('data', (c: Buffer) => {
                text += c.toString();
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
            },
          );
          req.on('error', reject); // a reset (the old behaviour) fails here
          req.end(body);
        },
      );
      assert.equal(r.status, 413, r.body);
      assert.equal(r.headers.connection, 'close');
      const j = JSON.parse(r.body) as { error: string };
      assert.equal(j.error, 'invalid_request');
      assert.ok(r.headers['x-request-id']);
    }
    // A small (invalid) token is still read and answered 400, not 413.
    const small = await new TestBrowser().request(`${s.url}/oauth2/backchannel-logout`, {
      kind: 'api',
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'logout_token=x',
    });
    assert.equal(small.status, 400);
  });
});
