import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

describe('login, session and proxy (memory store)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ config: { skipAuth: ['/public'] } });
  });
  after(() => s.close());

  it('redirects a navigation to the IdP with state, nonce and PKCE S256', async () => {
    const b = new TestBrowser();
    const r = await b.request(`${s.url}/dashboard?x=1`);
    assert.equal(r.status, 302);
    const loc = new URL(r.location!);
    assert.equal(loc.origin + loc.pathname, `${s.idp.issuer}/authorize`);
    assert.equal(loc.searchParams.get('code_challenge_method'), 'S256');
    assert.match(loc.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok((loc.searchParams.get('state') ?? '').length >= 32);
    assert.ok((loc.searchParams.get('nonce') ?? '').length >= 32);
    assert.equal(loc.searchParams.get('redirect_uri'), `${s.url}/oauth2/callback`);
    assert.ok(loc.searchParams.get('scope')?.split(' ').includes('offline_access'));
  });

  it('answers an API call without a session with 401 JSON and a challenge, never a redirect', async () => {
    const b = new TestBrowser();
    const r = await b.request(`${s.url}/api/data`, { kind: 'api' });
    assert.equal(r.status, 401);
    assert.equal(r.location, undefined);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.match(String(r.headers['www-authenticate']), /realm="gatehouse"/);
    const body = r.json();
    assert.equal(body.error, 'no_session');
    assert.ok(body.requestId);
    // XHR marker and plain fetch without Sec-Fetch headers are API calls too
    const xhr = await b.request(`${s.url}/x`, {
      kind: 'api',
      headers: { 'x-requested-with': 'XMLHttpRequest', accept: 'text/html' },
    });
    assert.equal(xhr.status, 401);
    const post = await b.request(`${s.url}/form`, { method: 'POST', body: 'a=1' });
    assert.equal(post.status, 401);
  });

  it('logs in, returns to the original URL and forwards the identity upstream', async () => {
    const b = new TestBrowser();
    const hops = await login(s, b, { path: '/dashboard?tab=2' });
    const last = hops.at(-1)!;
    assert.equal(last.status, 200);
    const echo = last.json<{ url: string; headers: Record<string, string> }>();
    assert.equal(echo.url, '/dashboard?tab=2');
    assert.equal(echo.headers['x-forwarded-user'], 'alice');
    assert.equal(echo.headers['x-forwarded-email'], 'alice@example.com');
    assert.equal(echo.headers['x-forwarded-preferred-username'], 'alice');
    assert.equal(echo.headers['x-forwarded-groups'], 'admins,dev');
    assert.equal(echo.headers['x-forwarded-proto'], 'http');
    assert.equal(echo.headers['x-forwarded-access-token'], undefined);
    assert.equal(echo.headers.authorization, undefined);
    // our cookies never reach the upstream
    assert.doesNotMatch(echo.headers.cookie ?? '', /gatehouse/);
  });

  it('issues one small HttpOnly SameSite=Lax cookie, a new id at every login', async () => {
    const b = new TestBrowser();
    const hops = await login(s, b);
    const callback = hops.find((h) => String(h.headers['set-cookie'] ?? '').includes('gatehouse='));
    assert.ok(callback, 'the callback sets the session cookie');
    const setCookie = ([] as string[])
      .concat(callback.headers['set-cookie'] as string[])
      .find((c) => c.startsWith('gatehouse='))!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain-http publicUrl: no Secure flag');
    const first = b.cookie(s.url, 'gatehouse')!;
    assert.ok(first.length < 200);
    // signing in again (explicitly, while signed in) mints a new session id
    await login(s, b, { path: '/oauth2/start?rd=%2F&retry=1' });
    const second = b.cookie(s.url, 'gatehouse')!;
    assert.notEqual(first, second);
  });

  it('strips identity headers a client tries to spoof, also on skip-auth paths', async () => {
    const b = new TestBrowser();
    await login(s, b, { user: 'bob' });
    const spoof = {
      'x-forwarded-user': 'mallory',
      'x-forwarded-email': 'mallory@evil.example',
      'x-forwarded-groups': 'admins',
      'x-forwarded-access-token': 'forged',
    };
    const r = await b.request(`${s.url}/who`, { kind: 'api', headers: spoof });
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-forwarded-user'], 'bob');
    assert.equal(h['x-forwarded-email'], 'bob@example.com');
    assert.equal(h['x-forwarded-groups'], 'dev');
    assert.equal(h['x-forwarded-access-token'], undefined);
    const anon = await new TestBrowser().request(`${s.url}/public/page`, { kind: 'api', headers: spoof });
    assert.equal(anon.status, 200);
    const ah = anon.json<{ headers: Record<string, string> }>().headers;
    assert.equal(ah['x-forwarded-user'], undefined);
    assert.equal(ah['x-forwarded-groups'], undefined);
  });

  it('refuses open redirects: any off-site rd lands on /', async () => {
    for (const rd of [
      '//evil.example/x',
      '/\\evil.example',
      'https://evil.example/',
      `http://127.0.0.1@evil.example/`,
      'javascript:alert(1)',
    ]) {
      const b = new TestBrowser();
      const hops = await b.follow(`${s.url}/oauth2/start?rd=${encodeURIComponent(rd)}`);
      const back = hops.find((h) => h.status === 302 && h.location && !h.location.startsWith('http'));
      assert.equal(back?.location, '/', `rd=${rd}`);
      assert.equal(hops.at(-1)!.status, 200);
    }
  });

  it('serves /oauth2/userinfo as JSON for the session', async () => {
    const b = new TestBrowser();
    await login(s, b);
    const r = await b.request(`${s.url}/oauth2/userinfo`, { kind: 'api' });
    assert.equal(r.status, 200);
    const j = r.json<{ user: string; groups: string[]; email: string }>();
    assert.equal(j.user, 'alice');
    assert.deepEqual(j.groups, ['admins', 'dev']);
    const anon = await new TestBrowser().request(`${s.url}/oauth2/userinfo`);
    assert.equal(anon.status, 401);
  });

  it('rejects a forged or corrupted cookie before any store read and clears it', async () => {
    const b = new TestBrowser();
    await login(s, b);
    const real = b.cookie(s.url, 'gatehouse')!;
    b.cookies(new URL(s.url).host).set('gatehouse', `${real.slice(0, -2)}AA`);
    const r = await b.request(`${s.url}/x`, { kind: 'api' });
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'bad_cookie');
    assert.equal(b.cookie(s.url, 'gatehouse'), undefined, 'cookie cleared');
  });

  it('logs out: the record is deleted, RP-initiated logout at the IdP, then the signed-out page', async () => {
    const b = new TestBrowser();
    await login(s, b);
    const cookie = b.cookie(s.url, 'gatehouse')!;
    // the app's "Sign out" link: a same-origin GET (cross-site GETs: test/integration/logout.test.ts)
    const hops = await b.follow(`${s.url}/oauth2/logout`, {
      first: { headers: { 'sec-fetch-site': 'same-origin' } },
    });
    assert.equal(hops[0]!.status, 302);
    const endSession = new URL(hops[0]!.location!);
    assert.equal(endSession.origin, new URL(s.idp.issuer).origin);
    assert.ok(endSession.searchParams.get('id_token_hint'));
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${s.url}/oauth2/signed-out`);
    const last = hops.at(-1)!;
    assert.equal(last.status, 200);
    assert.match(last.body, /signed out/i);
    // the old cookie value no longer opens a session, even if replayed
    const replay = new TestBrowser();
    replay.cookies(new URL(s.url).host).set('gatehouse', cookie);
    const r = await replay.request(`${s.url}/x`, { kind: 'api' });
    assert.equal(r.status, 401);
  });

  it('completes ten logins started at once in ten tabs', async () => {
    const b = new TestBrowser();
    await b.request(`${s.url}/warmup`); // the browser gets its login cookie
    const starts = await Promise.all(Array.from({ length: 10 }, (_, i) => b.request(`${s.url}/tab/${i}`)));
    assert.ok(starts.every((r) => r.status === 302));
    const atIdp = await Promise.all(starts.map((r) => b.request(r.location!)));
    const callbacks = await Promise.all(atIdp.map((r) => b.request(r.location!)));
    assert.deepEqual(
      callbacks.map((r) => r.status),
      Array(10).fill(302),
    );
    assert.deepEqual(
      callbacks.map((r) => r.location).sort(),
      Array.from({ length: 10 }, (_, i) => `/tab/${i}`).sort(),
    );
    const r = await b.request(`${s.url}/tab/0`, { kind: 'api' });
    assert.equal(r.status, 200);
  });

  it('bounds pending flows per browser: the oldest are dropped, the newest complete', async () => {
    const b = new TestBrowser();
    await b.request(`${s.url}/warmup`);
    const max = s.cfg.login.maxPendingFlows;
    const starts: string[] = [];
    for (let i = 0; i < max + 2; i++) starts.push((await b.request(`${s.url}/p/${i}`)).location!);
    const results = [];
    for (const authorize of starts) {
      const idp = await b.request(authorize);
      results.push((await b.request(idp.location!)).status);
    }
    assert.deepEqual(results.slice(0, 2), [400, 400]);
    assert.ok(results.slice(2).every((st) => st === 302));
    // the login cookie stays one small cookie whatever the number of tabs
    assert.ok(b.cookie(s.url, 'gatehouse_login')!.length < 100);
  });

  it('stops a login loop (session never sticks) with an error page instead of another redirect', async () => {
    const b = new TestBrowser();
    const max = s.cfg.login.maxAttempts;
    for (let i = 0; i < max; i++) {
      const hops = await login(s, b, { path: '/loop' });
      assert.equal(hops.at(-1)!.status, 200, `login ${i + 1} completes`);
      // the browser loses the session cookie (e.g. blocked), so it is sent to sign in again
      b.cookies(new URL(s.url).host).delete('gatehouse');
    }
    const last = await b.request(`${s.url}/loop`);
    assert.equal(last.status, 429);
    assert.equal(last.location, undefined);
    assert.match(last.body, /Try again/);
    assert.match(last.body, /Request id/);
    // a click on "Try again" is user-initiated and starts a fresh attempt
    const retry = await b.request(`${s.url}/oauth2/start?rd=%2Floop&retry=1`);
    assert.equal(retry.status, 302);
  });

  it('answers health and readiness', async () => {
    const b = new TestBrowser();
    assert.equal((await b.request(`${s.url}/healthz`, { kind: 'api' })).status, 200);
    const ready = await b.request(`${s.url}/readyz`, { kind: 'api' });
    assert.equal(ready.status, 200);
    assert.equal(ready.json().status, 'ready');
  });
});

describe('back-channel logout (memory store, one replica)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(() => s.close());

  it('ends the sessions of the IdP session named by the logout token (sid), on this replica', async () => {
    const b1 = new TestBrowser();
    const b2 = new TestBrowser();
    await login(s, b1);
    await login(s, b2);
    const other = new TestBrowser();
    await login(s, other, { user: 'bob' });
    // the dev IdP names alice's latest IdP session (b2's) in the token
    const res = await s.idp.backchannelLogout({ sub: 'usr_alice' });
    assert.deepEqual(res, { delivered: true, status: 200 });
    assert.equal((await b2.request(`${s.url}/x`, { kind: 'api' })).status, 401);
    assert.equal(
      (await b1.request(`${s.url}/x`, { kind: 'api' })).status,
      200,
      'another IdP session of alice is untouched',
    );
    assert.equal((await other.request(`${s.url}/x`, { kind: 'api' })).status, 200, 'bob is unaffected');
    // the next logout names b1's IdP session
    assert.equal((await s.idp.backchannelLogout({ sub: 'usr_alice' })).status, 200);
    assert.equal((await b1.request(`${s.url}/x`, { kind: 'api' })).status, 401);
  });

  it('rejects garbage, unsigned and replayed logout tokens with 400', async () => {
    const post = (body: string) =>
      new TestBrowser().request(`${s.url}/oauth2/backchannel-logout`, {
        kind: 'api',
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    assert.equal((await post('')).status, 400);
    assert.equal((await post('logout_token=not.a.jwt')).status, 400);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: s.idp.issuer, aud: 'gatehouse', sub: 'alice', iat: Math.floor(Date.now() / 1000), jti: 'x', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })).toString('base64url')}.`;
    assert.equal((await post(`logout_token=${unsigned}`)).status, 400);
    const get = await new TestBrowser().request(`${s.url}/oauth2/backchannel-logout`, { kind: 'api' });
    assert.equal(get.status, 405);
  });
});

describe('logout at providers without an end_session_endpoint', () => {
  it('cognito preset: logs out through Cognito’s /logout with client_id and logout_uri', async () => {
    const s = await startStack({
      idp: { profiles: ['cognito'] },
      config: { provider: { preset: 'cognito' } },
    });
    try {
      const b = new TestBrowser();
      await login(s, b);
      const hops = await b.follow(`${s.url}/oauth2/logout`, { first: { method: 'POST' } });
      assert.equal(hops[0]!.status, 303);
      const out = new URL(hops[0]!.location!);
      assert.equal(out.origin + out.pathname, `${s.idp.issuer}/logout`);
      assert.equal(out.searchParams.get('client_id'), 'gatehouse');
      assert.equal(out.searchParams.get('logout_uri'), `${s.url}/oauth2/signed-out`);
      // the dev IdP's Cognito emulation accepts it and sends the browser back to our page
      assert.equal(hops.at(-1)!.status, 200);
      assert.match(hops.at(-1)!.body, /signed out/i);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 401);
    } finally {
      await s.close();
    }
  });

  it('generic preset: without an end_session_endpoint the signed-out page is shown directly', async () => {
    const s = await startStack({ idp: { profiles: ['cognito'] } });
    try {
      const b = new TestBrowser();
      await login(s, b);
      const r = await b.request(`${s.url}/oauth2/logout`, { method: 'POST' });
      assert.equal(r.status, 303);
      assert.equal(r.location, '/oauth2/signed-out');
    } finally {
      await s.close();
    }
  });

  it('a logoutUrl template wins, with its placeholders URL-encoded', async () => {
    const s = await startStack({
      config: {
        provider: {
          logoutUrl:
            'https://login.example.com/v2/logout?client_id={client_id}&returnTo={post_logout_redirect_uri}',
        },
      },
    });
    try {
      const b = new TestBrowser();
      await login(s, b);
      const r = await b.request(`${s.url}/oauth2/logout`, { headers: { 'sec-fetch-site': 'none' } });
      assert.equal(
        r.location,
        `https://login.example.com/v2/logout?client_id=gatehouse&returnTo=${encodeURIComponent(`${s.url}/oauth2/signed-out`)}`,
      );
    } finally {
      await s.close();
    }
  });
});
