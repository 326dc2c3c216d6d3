import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { ADMIN_SPELLINGS } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort } from '../helpers/stack.js';
import { assertBearerRefused, SCOPED_PATH, tampered, userAccessToken } from './bearer.js';
import { type DoorStack, echoOf, loginThrough, type ProxyProcess, startDoorStack } from './helpers.js';

const TTL = 300; // dev IdP access token lifetime, seconds

export interface DoorContext {
  s: DoorStack;
  proxy: ProxyProcess;
  clock: ManualClock;
  /** A browser signed in as `user` through the proxy. */
  signedIn(user: string): Promise<TestBrowser>;
}

/**
 * The behaviour every forward-auth deployment must show, run against a real proxy binary with the
 * configuration from docs/front-doors.md in front of the echo upstream. `extra` adds tests
 * specific to one proxy.
 */
export function forwardAuthSuite(
  name: string,
  start: (o: { port: number; gatehousePort: number; upstreamPort: number }) => Promise<ProxyProcess>,
  extra?: (ctx: () => DoorContext) => void,
): void {
  describe(`${name} in front of Gatehouse (forward-auth)`, () => {
    let s: DoorStack;
    let proxy: ProxyProcess;
    const clock = new ManualClock();
    const browsers = new Map<string, TestBrowser>();

    before(async () => {
      const port = await freePort();
      s = await startDoorStack(port, { clock });
      proxy = await start({
        port,
        gatehousePort: s.gwPort,
        upstreamPort: Number(new URL(s.upstream.url).port),
      });
    });
    after(async () => {
      await proxy?.stop();
      await s?.close();
    });

    async function signedIn(user: string): Promise<TestBrowser> {
      let b = browsers.get(user);
      if (!b) {
        b = new TestBrowser();
        const hops = await loginThrough(b, s.idp, `${proxy.url}/signed-in`, user);
        assert.equal(hops.at(-1)!.status, 200, `login of ${user} through ${name}: ${proxy.output()}`);
        browsers.set(user, b);
      }
      return b;
    }
    const ctx = (): DoorContext => ({ s, proxy, clock, signedIn });

    it('API call without a session: 401 JSON with one WWW-Authenticate; the upstream is not reached', async () => {
      const hits = s.upstream.hits;
      const r = await new TestBrowser().request(`${proxy.url}/api/data?x=1`, { kind: 'api' });
      assert.equal(r.status, 401, r.body);
      assert.match(String(r.headers['content-type']), /application\/json/);
      const body = r.json<{ error: string; signIn: string }>();
      assert.equal(body.error, 'no_session');
      assert.ok(body.signIn.startsWith('/oauth2/start?rd='));
      assert.equal(typeof r.headers['www-authenticate'], 'string', 'exactly one WWW-Authenticate');
      assert.match(String(r.headers['www-authenticate']), /^Gatehouse realm="gatehouse"/);
      assert.equal(s.upstream.hits, hits);
    });

    it('a POST without a session is an API call (401), even when it accepts HTML', async () => {
      const r = await new TestBrowser().request(`${proxy.url}/form`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-mode': 'navigate' },
        body: 'a=1',
      });
      assert.equal(r.status, 401, r.body);
      assert.equal(r.location, undefined);
    });

    it('full login through the proxy: IdP redirect, callback, back to the original URL with identity headers', async () => {
      const b = new TestBrowser();
      const hops = await loginThrough(b, s.idp, `${proxy.url}/dashboard/view?tab=2`, 'alice');
      const [first] = hops;
      assert.equal(first!.status, 302);
      const authorize = new URL(first!.location!);
      assert.equal(authorize.origin + authorize.pathname, `${s.idp.issuer}/authorize`);
      assert.equal(authorize.searchParams.get('redirect_uri'), `${proxy.url}/oauth2/callback`);
      assert.ok(b.cookie(proxy.url, 'gatehouse_login'), 'the login cookie reached the browser');
      const callback = hops.find((h) => h.location === '/dashboard/view?tab=2');
      assert.ok(callback, `returned to the original URL: ${hops.map((h) => h.location).join(' → ')}`);
      const last = hops.at(-1)!;
      assert.equal(last.status, 200);
      const echo = echoOf(last, proxy);
      assert.equal(echo.url, '/dashboard/view?tab=2');
      assert.equal(echo.headers['x-forwarded-user'], 'alice');
      assert.equal(echo.headers['x-forwarded-email'], 'alice@example.com');
      assert.equal(echo.headers['x-forwarded-preferred-username'], 'alice');
      assert.equal(echo.headers['x-forwarded-groups'], 'admins,dev');
      assert.match(echo.headers['x-forwarded-access-token'] ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
      // the same session serves API calls
      const api = await b.request(`${proxy.url}/api/me`, { kind: 'api' });
      assert.equal(echoOf(api, proxy).headers['x-forwarded-user'], 'alice');
    });

    it('spoofed identity headers from the client are overwritten or removed', async () => {
      const spoof = {
        'x-forwarded-user': 'root',
        'x-forwarded-email': 'root@evil.example',
        'x-forwarded-preferred-username': 'root',
        'x-forwarded-groups': 'admins',
        'x-forwarded-groups-truncated': 'true',
        'x-forwarded-access-token': 'forged',
      };
      // carol has no groups: the answer carries no X-Forwarded-Groups, the client's must still go
      const b = await signedIn('carol');
      const echo = echoOf(await b.request(`${proxy.url}/api/me`, { kind: 'api', headers: spoof }), proxy);
      assert.equal(echo.headers['x-forwarded-user'], 'carol');
      assert.equal(echo.headers['x-forwarded-email'], 'carol@other.example');
      assert.equal(echo.headers['x-forwarded-preferred-username'], 'carol');
      // absent (nginx) or empty (Caddy copies the empty answer): never the client's value
      assert.ok(!echo.headers['x-forwarded-groups'], `groups: ${echo.headers['x-forwarded-groups']}`);
      assert.ok(!echo.headers['x-forwarded-groups-truncated']);
      assert.notEqual(echo.headers['x-forwarded-access-token'], 'forged');
      assert.ok(echo.headers['x-forwarded-access-token']);
      // a skip-auth path is served without a session, and without the spoofed identity
      const pub = await new TestBrowser().request(`${proxy.url}/public/logo.svg`, {
        kind: 'api',
        headers: spoof,
      });
      assert.equal(pub.status, 200, pub.body);
      const p = echoOf(pub, proxy);
      for (const name of Object.keys(spoof)) assert.ok(!p.headers[name], `${name}: ${p.headers[name]}`);
    });

    it('denied path: 403 page for a navigation, 403 JSON for an API call; the upstream is not reached', async () => {
      const b = await signedIn('bob');
      const hits = s.upstream.hits;
      const page = await b.request(`${proxy.url}/admin/users`);
      assert.equal(page.status, 403);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.match(page.body, /Access denied/);
      const api = await b.request(`${proxy.url}/admin/users`, { kind: 'api' });
      assert.equal(api.status, 403);
      assert.equal(api.json().error, 'forbidden');
      assert.equal(s.upstream.hits, hits);
      // alice (admins) is allowed there
      const a = await signedIn('alice');
      assert.equal(
        echoOf(await a.request(`${proxy.url}/admin/users`, { kind: 'api' }), proxy).url,
        '/admin/users',
      );
    });

    it('the path is decided on its normalised form, and the client cannot name another one', async () => {
      const b = await signedIn('bob');
      const hits = s.upstream.hits;
      for (const path of ['/public/../admin/x', '//admin/x', '/%61dmin/x']) {
        const r = await b.request(`${proxy.url}${path}`, { kind: 'api' });
        assert.equal(r.status, 403, `${path}: ${r.body}`);
      }
      // forwarded-URI headers sent by the client itself must not choose the authorized path
      for (const h of ['x-original-uri', 'x-forwarded-uri']) {
        const r = await b.request(`${proxy.url}/admin/x`, { kind: 'api', headers: { [h]: '/public/x' } });
        assert.equal(r.status, 403, `${h}: ${r.body}`);
      }
      assert.equal(s.upstream.hits, hits, 'nothing reached the upstream');
    });

    it('every spelling of /admin, raw on the socket, is 403 or 400 for bob (never 200, never 500)', async () => {
      const b = await signedIn('bob');
      const api = {
        Accept: 'application/json',
        'Sec-Fetch-Mode': 'cors',
        Cookie: `gatehouse=${b.cookie(proxy.url, 'gatehouse')}`,
      };
      const hits = s.upstream.hits;
      const seen: string[] = [];
      for (const target of ADMIN_SPELLINGS) {
        const r = await rawRequest(proxy.url, target, api);
        seen.push(`${target} → ${r.status}`);
        assert.ok(
          r.status === 403 || r.status === 400,
          `${target}: ${r.status} ${r.body}\n${seen.join('\n')}`,
        );
      }
      assert.equal(s.upstream.hits, hits, `nothing reached the upstream:\n${seen.join('\n')}`);
      // skipAuth opens only the exact case
      const anon = { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' };
      assert.equal((await rawRequest(proxy.url, '/PUBLIC/x', anon)).status, 401);
      assert.equal((await rawRequest(proxy.url, '/public/x', anon)).status, 200);
    });

    it('refresh through the proxy: a herd at token expiry makes one grant and every request succeeds', async () => {
      const b = await signedIn('alice');
      s.idp.reset();
      clock.advance(TTL * 1000 + 1000);
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          b.request(`${proxy.url}/herd/${i}`, { kind: i % 2 ? 'api' : 'navigate' }),
        ),
      );
      assert.deepEqual(
        replies.map((r) => r.status),
        Array(20).fill(200),
      );
      assert.equal(s.idp.stats().grants.refresh_token, 1, 'one refresh grant for the whole herd');
      assert.equal(s.gw.refresh.pending, 0);
    });

    it('logout through the proxy: a cross-site GET only gets the confirmation page; its POST ends the session', async () => {
      const b = new TestBrowser();
      await loginThrough(b, s.idp, `${proxy.url}/before-logout`, 'bob');
      assert.equal((await b.request(`${proxy.url}/api/me`, { kind: 'api' })).status, 200);
      const stolen = b.cookie(proxy.url, 'gatehouse');
      // the proxy passes the browser's Sec-Fetch-Site / Origin on to Gatehouse
      const page = await b.request(`${proxy.url}/oauth2/logout`, {
        headers: { 'sec-fetch-site': 'cross-site' },
      });
      assert.equal(page.status, 200, page.body);
      assert.match(page.body, /<form method="post" action="\/oauth2\/logout">/);
      assert.equal((await b.request(`${proxy.url}/api/me`, { kind: 'api' })).status, 200, 'session kept');
      const refused = await b.request(`${proxy.url}/oauth2/logout`, {
        method: 'POST',
        headers: { origin: 'http://evil.example' },
      });
      assert.equal(refused.status, 403, refused.body);
      assert.equal((await b.request(`${proxy.url}/api/me`, { kind: 'api' })).status, 200, 'session kept');
      // the confirmation page's button: a same-origin POST (publicUrl is the proxy's origin)
      const hops = await b.follow(`${proxy.url}/oauth2/logout`, {
        first: {
          method: 'POST',
          headers: { 'sec-fetch-site': 'same-origin', origin: new URL(proxy.url).origin },
        },
      });
      assert.equal(hops[0]!.status, 303);
      assert.equal(b.cookie(proxy.url, 'gatehouse'), undefined, 'session cookie cleared');
      assert.match(hops.at(-1)!.body, /signed out/i);
      assert.equal((await b.request(`${proxy.url}/api/me`, { kind: 'api' })).status, 401);
      // the record is gone server-side: replaying the old cookie does not work either
      const replay = await new TestBrowser().request(`${proxy.url}/api/me`, {
        kind: 'api',
        headers: { cookie: `gatehouse=${stolen}` },
      });
      assert.equal(replay.status, 401);
      // the engine's decision clears the dead cookie, and the proxy passes that on to the browser
      const cleared = [replay.headers['set-cookie'] ?? []].flat();
      assert.ok(
        cleared.some((c) => /^gatehouse=;.*Max-Age=0/.test(c)),
        `Set-Cookie: ${cleared.join(' | ')}`,
      );
    });

    it('Gatehouse metrics are not reachable through the proxy', async () => {
      const r = await new TestBrowser().request(`${proxy.url}/oauth2/metrics`, { kind: 'api' });
      assert.equal(r.status, 404);
      assert.doesNotMatch(r.body, /gatehouse_requests_total/);
    });

    it("bearer JWT: the proxy forwards Authorization, the app gets the identity and X-Forwarded-Client-Id, never the client's copy; no cookie", async () => {
      const token = await userAccessToken(s.idp, 'bob');
      for (const kind of ['api', 'navigate'] as const) {
        const r = await new TestBrowser().request(`${proxy.url}/api/reports?q=1`, {
          kind,
          headers: { authorization: `Bearer ${token}`, 'x-forwarded-client-id': 'forged-client' },
        });
        assert.equal(r.status, 200, `${kind}: ${r.body}`);
        assert.equal(r.headers['set-cookie'], undefined, kind);
        const echo = echoOf(r, proxy);
        assert.equal(echo.url, '/api/reports?q=1');
        assert.equal(echo.headers['x-forwarded-user'], 'bob', kind);
        assert.equal(echo.headers['x-forwarded-client-id'], 'gatehouse', kind);
        assert.equal(
          echo.headers.authorization,
          `Bearer ${token}`,
          "the app gets the client's Authorization as it came",
        );
      }
      // a session request: the client's X-Forwarded-Client-Id is removed (empty at most), never passed on
      const b = await signedIn('carol');
      const echo = echoOf(
        await b.request(`${proxy.url}/api/me`, {
          kind: 'api',
          headers: { 'x-forwarded-client-id': 'forged' },
        }),
        proxy,
      );
      assert.ok(
        !echo.headers['x-forwarded-client-id'],
        `client id: ${echo.headers['x-forwarded-client-id']}`,
      );
    });

    it('a bad bearer token: 401 invalid_token with its Bearer challenge through the proxy, never a login redirect, even for a navigation', async () => {
      const token = tampered(await userAccessToken(s.idp, 'bob'));
      const hits = s.upstream.hits;
      for (const kind of ['api', 'navigate'] as const) {
        const r = await new TestBrowser().request(`${proxy.url}/dashboard`, {
          kind,
          headers: { authorization: `Bearer ${token}` },
        });
        assertBearerRefused(r, 401, 'invalid_token', kind);
        assert.match(String(r.headers['www-authenticate']), /error_description="[^"]*signature/);
      }
      assert.equal(s.upstream.hits, hits, 'the upstream is not reached');
      // no login flow was started for it: nothing was asked of the IdP's authorize endpoint
      assert.ok(
        !s.logs.some((l) => l.decision === 'redirect' && String(l.path) === '/dashboard'),
        'never a redirect decision',
      );
    });

    it('a bearer token denied by a rule: 403 insufficient_scope, its challenge (with scope=) reaches the client once', async () => {
      const token = await userAccessToken(s.idp, 'bob');
      const hits = s.upstream.hits;
      for (const kind of ['api', 'navigate'] as const) {
        const scoped = await new TestBrowser().request(`${proxy.url}${SCOPED_PATH}/invoices`, {
          kind,
          headers: { authorization: `Bearer ${token}` },
        });
        assertBearerRefused(scoped, 403, 'insufficient_scope', kind);
        assert.match(String(scoped.headers['www-authenticate']), /scope="billing:read"/);
        const admin = await new TestBrowser().request(`${proxy.url}/admin/users`, {
          kind,
          headers: { authorization: `Bearer ${token}` },
        });
        assertBearerRefused(admin, 403, 'insufficient_scope', kind);
      }
      assert.equal(s.upstream.hits, hits, 'the upstream is not reached');
    });

    extra?.(ctx);
  });
}
