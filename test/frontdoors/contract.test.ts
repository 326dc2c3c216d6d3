import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { ADMIN_SPELLINGS, RARER_ADMIN_SPELLINGS } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { DOOR_CONFIG } from './helpers.js';

/**
 * The forward-auth contract, spoken to directly (no proxy in between): what the endpoints read,
 * what they answer, and what they refuse. The proxy tests show the same through nginx and Caddy.
 */
describe('forward-auth endpoints (contract)', () => {
  let s: Stack;
  let alice: TestBrowser;
  let bob: TestBrowser;
  const clock = new ManualClock();

  before(async () => {
    s = await startStack({
      clock,
      config: { ...DOOR_CONFIG, login: { allowedRedirectHosts: ['app.example.test'] } } as never,
    });
    alice = new TestBrowser();
    bob = new TestBrowser();
    await login(s, alice, { user: 'alice' });
    await login(s, bob, { user: 'bob' });
  });
  after(() => s.close());

  const host = () => new URL(s.url).host;
  function described(uri: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      'x-original-uri': uri,
      'x-forwarded-method': 'GET',
      'x-forwarded-host': host(),
      'x-forwarded-proto': 'http',
      ...extra,
    };
  }

  /** `described`, with the URI in the one header `name` (as nginx or as Caddy/Traefik send it). */
  function describedIn(name: string, uri: string): Record<string, string> {
    const { 'x-original-uri': _o, ...rest } = described(uri);
    return { ...rest, [name]: uri };
  }

  it('allow: 202 on /oauth2/auth, 200 on /oauth2/forward-auth, identity headers, no body', async () => {
    const hits = s.upstream.hits;
    for (const [path, status] of [
      ['/oauth2/auth', 202],
      ['/oauth2/forward-auth', 200],
    ] as const) {
      const r = await alice.request(`${s.url}${path}`, { kind: 'api', headers: described('/app/page?x=1') });
      assert.equal(r.status, status, `${path}: ${r.body}`);
      assert.equal(r.body, '');
      assert.equal(r.headers['x-forwarded-user'], 'alice');
      assert.equal(r.headers['x-forwarded-email'], 'alice@example.com');
      assert.equal(r.headers['x-forwarded-preferred-username'], 'alice');
      assert.equal(r.headers['x-forwarded-groups'], 'admins,dev');
      assert.equal(r.headers['x-forwarded-groups-truncated'], '', 'answered empty: nothing to say');
      assert.match(String(r.headers['x-forwarded-access-token']), /^ey/);
      assert.equal(r.headers['cache-control'], 'no-store');
    }
    assert.equal(s.upstream.hits, hits, 'forward-auth never proxies');
  });

  it('a request without the forwarded headers is a 400 naming what is missing', async () => {
    for (const path of ['/oauth2/auth', '/oauth2/forward-auth']) {
      const r = await alice.request(`${s.url}${path}`, { kind: 'api' });
      assert.equal(r.status, 400);
      const body = r.json<{ error: string; reason: string }>();
      assert.equal(body.error, 'bad_request');
      assert.match(
        body.reason,
        /X-Original-URI \(or X-Forwarded-Uri\), X-Forwarded-Method, X-Forwarded-Host/,
      );
      const noHost = await alice.request(`${s.url}${path}`, {
        kind: 'api',
        headers: { 'x-forwarded-uri': '/x', 'x-forwarded-method': 'GET' },
      });
      assert.equal(noHost.status, 400);
      assert.match(noHost.json<{ reason: string }>().reason, /in X-Forwarded-Host\.$/);
    }
  });

  it('refuses ambiguous or malformed descriptions (the path decides authorization)', async () => {
    const cases: Array<[string, Record<string, string | string[]>, RegExp]> = [
      [
        'URI headers disagree',
        described('/admin', { 'x-forwarded-uri': '/public/x' }),
        /X-Original-URI and X-Forwarded-Uri disagree/,
      ],
      ['absolute URI', described('http://evil.example/admin'), /origin-form/],
      ['no leading slash', described('admin'), /origin-form/],
      ['bad method', described('/x', { 'x-forwarded-method': 'GET /admin' }), /not an HTTP method/],
      ['bad host', described('/x', { 'x-forwarded-host': 'evil.example/path' }), /not a host name/],
      ['bad proto', described('/x', { 'x-forwarded-proto': 'javascript' }), /http or https/],
    ];
    for (const [name, headers, reason] of cases) {
      const r = await request(`${s.url}/oauth2/auth`, { headers: headers as Record<string, string> });
      const body = (await r.body.json()) as { reason: string };
      assert.equal(r.statusCode, 400, name);
      assert.match(body.reason, reason, name);
    }
    // the same header twice (a client's copy plus the proxy's) is ambiguous too
    const twice = await request(`${s.url}/oauth2/auth`, {
      headers: [
        'x-original-uri',
        '/public/x',
        'x-original-uri',
        '/admin',
        'x-forwarded-method',
        'GET',
        'x-forwarded-host',
        host(),
      ],
    });
    assert.equal(twice.statusCode, 400);
    assert.match(((await twice.body.json()) as { reason: string }).reason, /more than once/);
  });

  it('authorizes the normalised path, like the reverse proxy', async () => {
    for (const uri of ['/admin', '/public/../admin', '//admin', '/%61dmin', '/public/%2e%2e/admin']) {
      const r = await bob.request(`${s.url}/oauth2/auth`, { kind: 'api', headers: described(uri) });
      assert.equal(r.status, 403, uri);
      assert.equal(r.json().error, 'forbidden');
    }
    const ok = await alice.request(`${s.url}/oauth2/auth`, {
      kind: 'api',
      headers: described('/public/../admin'),
    });
    assert.equal(ok.status, 202);
  });

  it('every spelling of /admin in X-Original-URI or X-Forwarded-Uri is 403 or 400 for bob, on both endpoints', async () => {
    for (const header of ['x-original-uri', 'x-forwarded-uri']) {
      for (const path of ['/oauth2/auth', '/oauth2/forward-auth']) {
        for (const uri of ADMIN_SPELLINGS) {
          const r = await bob.request(`${s.url}${path}`, { kind: 'api', headers: describedIn(header, uri) });
          const what = `${path} ${header}: ${uri}`;
          assert.ok(r.status === 403 || r.status === 400, `${what}: ${r.status} ${r.body}`);
          const body = r.json<{ error: string; reason: string; requestId: string }>();
          assert.equal(body.error, r.status === 400 ? 'bad_request' : 'forbidden', what);
          assert.equal(body.requestId, r.headers['x-request-id'], what);
        }
      }
    }
  });

  it('a forwarded #, backslash or %25 is a 400 naming the header; other case and escapes are 403', async () => {
    for (const uri of ['/admin#x', '/public\\..\\admin', '/public%5C..%5Cadmin', '/%252e%252e/admin']) {
      for (const header of ['x-original-uri', 'x-forwarded-uri']) {
        const r = await bob.request(`${s.url}/oauth2/auth`, {
          kind: 'api',
          headers: describedIn(header, uri),
        });
        assert.equal(r.status, 400, `${header}: ${uri}: ${r.body}`);
        assert.match(
          r.json<{ reason: string }>().reason,
          header === 'x-original-uri' ? /^X-Original-URI: / : /^X-Forwarded-Uri: /,
        );
      }
    }
    for (const uri of ['/Admin', '/ADMIN/x', '/%41dmin', '/admin%23']) {
      const r = await bob.request(`${s.url}/oauth2/auth`, { kind: 'api', headers: described(uri) });
      assert.equal(r.status, 403, `${uri}: ${r.body}`);
    }
    for (const uri of RARER_ADMIN_SPELLINGS.denied) {
      const r = await bob.request(`${s.url}/oauth2/auth`, { kind: 'api', headers: described(uri) });
      assert.equal(r.status, 403, `${uri}: ${r.body}`);
    }
    for (const uri of RARER_ADMIN_SPELLINGS.refused) {
      for (const header of ['x-original-uri', 'x-forwarded-uri']) {
        const r = await bob.request(`${s.url}/oauth2/auth`, {
          kind: 'api',
          headers: describedIn(header, uri),
        });
        assert.equal(r.status, 400, `${header}: ${uri}: ${r.body}`);
      }
    }
    // unencoded UTF-8 (ı as the raw bytes C4 B1, as nginx passes $request_uri) is refused, not folded
    const raw = await rawRequest(s.url, '/oauth2/auth', {
      Accept: 'application/json',
      Cookie: `gatehouse=${bob.cookie(s.url, 'gatehouse')}`,
      ...described('/adm\u00c4\u00b1n'),
    });
    assert.equal(raw.status, 400, raw.body);
    assert.match(raw.json<{ reason: string }>().reason, /^X-Original-URI: .*not percent-encoded/);
    // /oauth2/forward-auth answers a navigation with the 400 page
    const page = await bob.request(`${s.url}/oauth2/forward-auth`, { headers: described('/admin#x') });
    assert.equal(page.status, 400);
    assert.match(String(page.headers['content-type']), /text\/html/);
  });

  it('skipAuth opens only the exact case through forward-auth: /PUBLIC/x needs a login', async () => {
    const anon = new TestBrowser();
    const upper = await anon.request(`${s.url}/oauth2/auth`, {
      kind: 'api',
      headers: described('/PUBLIC/x'),
    });
    assert.equal(upper.status, 401, upper.body);
    const open = await anon.request(`${s.url}/oauth2/auth`, { kind: 'api', headers: described('/public/x') });
    assert.equal(open.status, 202, open.body);
    // the query is not a path
    const q = await alice.request(`${s.url}/oauth2/auth`, {
      kind: 'api',
      headers: described('/search?q=100%25'),
    });
    assert.equal(q.status, 202, q.body);
  });

  it('denied: 403 JSON on /oauth2/auth; page or JSON on /oauth2/forward-auth by request kind', async () => {
    const nav = await bob.request(`${s.url}/oauth2/auth`, { headers: described('/admin/x') });
    assert.equal(nav.status, 403);
    assert.match(String(nav.headers['content-type']), /json/, 'nginx shows its own page for 403s');
    const page = await bob.request(`${s.url}/oauth2/forward-auth`, { headers: described('/admin/x') });
    assert.equal(page.status, 403);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /Access denied/);
    const api = await bob.request(`${s.url}/oauth2/forward-auth`, {
      kind: 'api',
      headers: described('/admin/x'),
    });
    assert.equal(api.json().error, 'forbidden');
  });

  it('skip-auth paths are allowed without a session, with every identity header empty', async () => {
    const r = await new TestBrowser().request(`${s.url}/oauth2/auth`, {
      kind: 'api',
      headers: described('/public/a.css'),
    });
    assert.equal(r.status, 202);
    assert.equal(r.headers['x-forwarded-user'], '');
    assert.equal(r.headers['x-forwarded-groups'], '');
  });

  it('not signed in: /oauth2/auth answers 401 even for a navigation and starts no login flow', async () => {
    const b = new TestBrowser();
    const r = await b.request(`${s.url}/oauth2/auth`, { headers: described('/dash') });
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'no_session');
    assert.match(String(r.headers['www-authenticate']), /login_url="\/oauth2\/start\?rd=/);
    assert.equal(r.headers['set-cookie'], undefined, 'no login cookie for a flow nobody will see');
  });

  it('not signed in: /oauth2/forward-auth redirects a navigation to the IdP and returns to the original URL', async () => {
    const b = new TestBrowser();
    const r = await b.request(`${s.url}/oauth2/forward-auth`, {
      headers: described('/reports/q3?sort=desc'),
    });
    assert.equal(r.status, 302);
    assert.ok(r.location!.startsWith(`${s.idp.issuer}/authorize?`));
    assert.ok(b.cookie(s.url, 'gatehouse_login'), 'the login cookie is part of the answer');
    const hops = await b.follow(r.location!);
    assert.ok(
      hops.some((h) => h.location === '/reports/q3?sort=desc'),
      hops.map((h) => h.location).join(' → '),
    );
    assert.equal(hops.at(-1)!.status, 200);
    // an API call gets the 401 instead
    const api = await new TestBrowser().request(`${s.url}/oauth2/forward-auth`, {
      kind: 'api',
      headers: described('/reports'),
    });
    assert.equal(api.status, 401);
    assert.ok(api.headers['www-authenticate']);
  });

  it('the return URL passes the open-redirect check: allow-listed host kept, any other host dropped', async () => {
    // Where the browser is sent once the provider has answered (the callback's redirect).
    async function afterSignIn(forwardedHost: string): Promise<string | undefined> {
      const b = new TestBrowser();
      const r = await b.request(`${s.url}/oauth2/forward-auth`, {
        headers: described('/deep/link', { 'x-forwarded-host': forwardedHost, 'x-forwarded-proto': 'https' }),
      });
      assert.equal(r.status, 302);
      const hops = await b.follow(r.location!, { max: 3 });
      return hops.find(
        (h) => h.location && !h.location.startsWith(s.url) && !h.location.startsWith(s.idp.issuer),
      )?.location;
    }
    // An allow-listed host the session cookie does not reach gets it through a one-time ticket
    // (docs/routes.md), which lands on the deep link.
    const handoff = new URL((await afterSignIn('app.example.test'))!);
    assert.equal(handoff.origin, 'https://app.example.test');
    assert.equal(handoff.pathname, '/oauth2/session');
    assert.ok(handoff.searchParams.get('ticket'));
    const b = new TestBrowser();
    const r = await b.request(`${s.url}/oauth2/forward-auth`, {
      headers: described('/deep/link', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }),
    });
    const hops = await b.follow(r.location!, { max: 2 });
    assert.equal(hops.at(-1)!.location, '/');
  });

  it('IdP down past the outage grace: 503 JSON with Retry-After (nginx shows its 500)', async () => {
    const b = new TestBrowser();
    await login(s, b, { user: 'bob' });
    s.idp.setProfiles(['token-endpoint-5xx']);
    try {
      clock.advance((300 + s.cfg.refresh.outageGraceSeconds + 10) * 1000);
      const r = await b.request(`${s.url}/oauth2/auth`, { kind: 'api', headers: described('/x') });
      assert.equal(r.status, 503, r.body);
      assert.equal(r.json().error, 'provider_unavailable');
      assert.ok(Number(r.headers['retry-after']) >= 1);
    } finally {
      s.idp.setProfiles([]);
    }
  });
});
