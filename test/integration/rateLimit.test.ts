import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

/**
 * `login.rateLimitPerMinute` (issue 8 item 5): sign-in starts per client per minute, 429 beyond
 * it. Who the client is: the socket's peer, or behind `server.trustedProxies` the right-most
 * untrusted X-Forwarded-For entry — for the reverse proxy and forward-auth alike; IPv6 per /64.
 */
const LIMIT = 3;

function start(s: Stack, headers: Record<string, string> = {}, kind: 'navigate' | 'api' = 'navigate') {
  return new TestBrowser().request(`${s.url}/oauth2/start?rd=%2Fx`, { headers, kind });
}

function forwardAuth(s: Stack, xff: string) {
  return new TestBrowser().request(`${s.url}/oauth2/forward-auth`, {
    headers: {
      'x-forwarded-method': 'GET',
      'x-forwarded-host': '127.0.0.1',
      'x-forwarded-uri': '/app',
      'x-forwarded-for': xff,
    },
  });
}

describe('login rate limit per client', () => {
  const idp = useTestIdp();
  const stacks: Stack[] = [];
  after(async () => {
    for (const s of stacks) await s.close();
  });
  async function stack(config: Record<string, unknown>): Promise<Stack> {
    const s = await startStack({
      idpInstance: idp,
      config: { logging: { level: 'warn' }, ...config } as never,
    });
    stacks.push(s);
    return s;
  }

  it('beyond the limit: 429 with Retry-After, a page for navigations and JSON for API calls', async () => {
    const s = await stack({ login: { rateLimitPerMinute: LIMIT } });
    for (let i = 0; i < LIMIT; i++) assert.equal((await start(s)).status, 302);
    const page = await start(s);
    assert.equal(page.status, 429);
    const ra = Number(page.headers['retry-after']);
    assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After: ${page.headers['retry-after']}`);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /Too many attempts/);
    assert.match(page.body, /Too many sign-in attempts from your network/);
    assert.match(page.body, /Request id/);
    assert.equal(page.location, undefined, 'no redirect to the IdP');
    assert.equal(page.headers['set-cookie'], undefined, 'nothing stored, no login cookie');

    const api = await start(s, {}, 'api');
    assert.equal(api.status, 429);
    assert.ok(Number(api.headers['retry-after']) >= 1);
    assert.match(String(api.headers['content-type']), /^application\/json/);
    const body = api.json<{ error: string; reason: string; requestId: string }>();
    assert.equal(body.error, 'rate_limited');
    assert.match(body.reason, /Too many sign-in attempts/);
    assert.equal(body.requestId, api.headers['x-request-id']);

    // An unauthenticated navigation to an application path starts a login too: limited the same way.
    const nav = await new TestBrowser().request(`${s.url}/app`);
    assert.equal(nav.status, 429);
    assert.ok(
      s.logs.filter((l) => /login rate limit reached/.test(String(l.msg))).length === 1,
      'one warning per client per window, not one per refused request',
    );
  });

  it('a client’s X-Forwarded-For is not believed from an untrusted peer (forward-auth included)', async () => {
    const s = await stack({ login: { rateLimitPerMinute: LIMIT } });
    for (let i = 0; i < LIMIT; i++)
      assert.equal((await start(s, { 'x-forwarded-for': `198.51.100.${i}` })).status, 302);
    assert.equal((await start(s, { 'x-forwarded-for': '198.51.100.99' })).status, 429, 'reverse proxy');
    assert.equal((await forwardAuth(s, '198.51.100.98')).status, 429, 'forward-auth');
  });

  it('behind server.trustedProxies the client is the right-most untrusted X-Forwarded-For entry', async () => {
    const s = await stack({
      login: { rateLimitPerMinute: LIMIT },
      server: { trustedProxies: ['127.0.0.1', '10.0.0.0/8'] },
    });
    for (let i = 0; i < LIMIT; i++) {
      assert.equal((await start(s, { 'x-forwarded-for': '203.0.113.7, 10.1.2.3' })).status, 302);
    }
    assert.equal((await start(s, { 'x-forwarded-for': '203.0.113.7' })).status, 429);
    // Entries left of the client's are the client's own words: a forged one changes nothing.
    assert.equal((await start(s, { 'x-forwarded-for': '192.0.2.1, 203.0.113.7' })).status, 429);
    assert.equal((await start(s, { 'x-forwarded-for': '203.0.113.8' })).status, 302, 'another client');
    // Forward-auth reads the proxy's X-Forwarded-For the same way.
    assert.equal((await forwardAuth(s, '203.0.113.7')).status, 429);
    assert.equal((await forwardAuth(s, '203.0.113.9, 10.9.9.9')).status, 302);
    // IPv6 clients are counted per /64.
    for (let i = 1; i <= LIMIT; i++) {
      assert.equal((await start(s, { 'x-forwarded-for': `2001:db8:1:2::${i}` })).status, 302);
    }
    assert.equal((await start(s, { 'x-forwarded-for': '2001:db8:1:2:ffff::1' })).status, 429, 'same /64');
    assert.equal((await start(s, { 'x-forwarded-for': '2001:db8:1:3::1' })).status, 302, 'another /64');
  });

  it('rateLimitPerMinute: 0 disables the limit', async () => {
    const s = await stack({ login: { rateLimitPerMinute: 0 } });
    for (let i = 0; i < 20; i++) assert.equal((await start(s)).status, 302);
  });

  it('warns once when many browsers sign in from one untrusted address (a proxy not in trustedProxies)', async () => {
    const s = await stack({ login: { rateLimitPerMinute: 0 } });
    const warnings = () => s.logs.filter((l) => /server\.trustedProxies/.test(String(l.msg)));
    // Cookie-less starts (a flood, or first visits) are not browsers yet: no warning.
    for (let i = 0; i < 60; i++) await start(s);
    assert.equal(warnings().length, 0);
    // 60 browsers that hold a login cookie, all from 127.0.0.1.
    for (let i = 0; i < 60; i++) {
      const b = new TestBrowser();
      await b.request(`${s.url}/oauth2/start?rd=%2F`);
      await b.request(`${s.url}/oauth2/start?rd=%2F`);
    }
    assert.equal(warnings().length, 1, 'one warning, not one per browser');
    assert.equal(warnings()[0]!.client, '127.0.0.1');
    assert.equal(warnings()[0]!.level, 40);
    // Signing in still works for everyone: it is a warning, not a block.
    assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
  });
});
