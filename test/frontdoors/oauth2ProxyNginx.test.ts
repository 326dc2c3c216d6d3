import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/stack.js';
import {
  type DoorStack,
  documentedBlock,
  echoOf,
  loginThrough,
  type ProxyProcess,
  startDoorStack,
  startNginx,
  substitute,
} from './helpers.js';

/** Gatehouse (the front-door test stack) behind the documented oauth2-proxy nginx example. */
async function startBehindOauth2ProxyNginx(
  config: Record<string, unknown> = {},
): Promise<{ s: DoorStack; proxy: ProxyProcess }> {
  const port = await freePort();
  const s = await startDoorStack(port, { config });
  const site = substitute(documentedBlock('nginx-oauth2-proxy', 'migrating-from-oauth2-proxy.md'), {
    'http://127.0.0.1:4180;': `http://127.0.0.1:${s.gwPort};`,
    'http://127.0.0.1:3000/;': `${s.upstream.url}/;`,
    'listen 80;': `listen 127.0.0.1:${port};`,
  });
  try {
    return { s, proxy: await startNginx({ port, gatehousePort: s.gwPort, upstreamPort: 0, site }) };
  } catch (err) {
    await s.close();
    throw err;
  }
}

/**
 * oauth2-proxy's own nginx `auth_request` example (docs/migrating-from-oauth2-proxy.md, only the
 * addresses changed) in front of Gatehouse, on a real nginx: a configuration written for
 * oauth2-proxy works unchanged — /oauth2/sign_in, X-Auth-Request-* answer headers, and an auth
 * subrequest that names neither X-Forwarded-Host nor X-Forwarded-Method.
 */
describe('nginx configured for oauth2-proxy, in front of Gatehouse', () => {
  let s: DoorStack;
  let proxy: ProxyProcess;

  before(async () => {
    ({ s, proxy } = await startBehindOauth2ProxyNginx());
  });
  after(async () => {
    await proxy?.stop();
    await s?.close();
  });

  it('signs in through /oauth2/sign_in and hands X-User, X-Email, X-Access-Token to the upstream', async () => {
    const b = new TestBrowser();
    const hops = await loginThrough(b, s.idp, `${proxy.url}/reports/q3?tab=2`, 'alice');
    const trail = hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → ');
    // nginx's @oauth2_signin sends the browser to oauth2-proxy's sign-in URL…
    const signIn = new URL(hops[0]!.location!, proxy.url);
    assert.equal(signIn.pathname, '/oauth2/sign_in', trail);
    assert.equal(signIn.searchParams.get('rd'), `${proxy.url}/reports/q3?tab=2`);
    // …which goes straight to the provider, and back to rd after the callback
    assert.ok(
      hops.some((h) => h.location?.startsWith(`${s.idp.issuer}/authorize`)),
      trail,
    );
    const last = hops.at(-1)!;
    assert.equal(last.status, 200, `${trail}\n${proxy.output()}`);
    const echo = echoOf(last, proxy);
    assert.equal(echo.url, '/reports/q3?tab=2');
    assert.equal(echo.headers['x-user'], 'alice');
    assert.equal(echo.headers['x-email'], 'alice@example.com');
    assert.match(echo.headers['x-access-token'] ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);

    // the same session, and a client's own X-User never wins
    const spoofed = await b.request(`${proxy.url}/api/me`, {
      kind: 'api',
      headers: { 'x-user': 'root', 'x-email': 'root@evil.example' },
    });
    assert.equal(echoOf(spoofed, proxy).headers['x-user'], 'alice');
    assert.equal(echoOf(spoofed, proxy).headers['x-email'], 'alice@example.com');
  });

  it('the auth subrequest without X-Forwarded-Host/-Method is decided on the URI (rules apply), not refused', async () => {
    const b = new TestBrowser();
    const hops = await loginThrough(b, s.idp, `${proxy.url}/start`, 'bob');
    assert.equal(hops.at(-1)!.status, 200);
    // bob (group dev) is denied /admin by the rule, in any spelling nginx routes to it
    for (const path of ['/admin/x', '/ADMIN/x', '/%61dmin/x']) {
      const r = await b.request(`${proxy.url}${path}`, { kind: 'api' });
      assert.equal(r.status, 403, `${path}: ${r.status}`);
    }
    const auth = s.logs.filter((l) => l.msg === 'request' && l.path === '/oauth2/auth' && l.user === 'bob');
    assert.ok(auth.length > 0, 'the subrequests reached /oauth2/auth');
    assert.ok(
      auth.every((l) => l.status === 202 || l.status === 403),
      JSON.stringify(auth.map((l) => l.status)),
    );
  });

  it('/oauth2/sign_out signs out like /oauth2/logout (same-origin), and a cross-site GET only gets the confirmation', async () => {
    const b = new TestBrowser();
    assert.equal((await loginThrough(b, s.idp, `${proxy.url}/x`, 'alice')).at(-1)!.status, 200);
    const cross = await b.request(`${proxy.url}/oauth2/sign_out`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(cross.status, 200);
    assert.match(cross.body, /Sign out/);
    assert.equal((await b.request(`${proxy.url}/api/me`, { kind: 'api' })).status, 200, 'session kept');
    const same = await b.request(`${proxy.url}/oauth2/sign_out`, {
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(same.status, 302, same.body);
    // signed out: the example's error_page sends every unauthenticated request to sign-in
    const after = await b.request(`${proxy.url}/api/me`, { kind: 'api' });
    assert.equal(after.status, 302);
    assert.match(after.location ?? '', /\/oauth2\/sign_in\?rd=/);
  });
});

describe('oauth2-proxy compatibility at the forward-auth endpoint itself', () => {
  let s: DoorStack;
  let proxy: ProxyProcess;
  before(async () => {
    ({ s, proxy } = await startBehindOauth2ProxyNginx({ headers: { passAccessToken: false } }));
  });
  after(async () => {
    await proxy?.stop();
    await s?.close();
  });

  it('X-Auth-Request-* mirror the identity headers; -Access-Token only with headers.passAccessToken', async () => {
    const b = new TestBrowser();
    assert.equal((await loginThrough(b, s.idp, `${proxy.url}/x`, 'alice')).at(-1)!.status, 200);
    // the subrequest as nginx sends it, straight to Gatehouse with the browser's cookie
    const cookie = [...b.cookies(new URL(proxy.url).host)].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await new TestBrowser().request(`${s.gwUrl}/oauth2/auth`, {
      kind: 'api',
      headers: { cookie, 'x-forwarded-uri': '/dashboard', host: '127.0.0.1' },
    });
    assert.equal(r.status, 202, r.body);
    assert.equal(r.headers['x-auth-request-user'], 'alice');
    assert.equal(r.headers['x-auth-request-email'], 'alice@example.com');
    assert.equal(r.headers['x-auth-request-preferred-username'], 'alice');
    assert.equal(r.headers['x-auth-request-groups'], 'admins,dev');
    assert.equal(r.headers['x-auth-request-access-token'], undefined);
    // …and through nginx the upstream gets no token
    const echo = echoOf(await b.request(`${proxy.url}/y`, { kind: 'api' }), proxy);
    assert.equal(echo.headers['x-user'], 'alice');
    assert.ok(!echo.headers['x-access-token'], `token: ${echo.headers['x-access-token']}`);
  });

  it('only one of X-Forwarded-Host / X-Forwarded-Method is a half-written configuration: 400', async () => {
    const r = await new TestBrowser().request(`${s.gwUrl}/oauth2/auth`, {
      kind: 'api',
      headers: { 'x-forwarded-uri': '/dashboard', 'x-forwarded-method': 'GET' },
    });
    assert.equal(r.status, 400);
    assert.match(r.body, /X-Forwarded-Host/);
  });
});
