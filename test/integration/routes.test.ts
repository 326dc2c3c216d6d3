import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { TestBrowser } from '../helpers/browser.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { HostBrowser } from '../helpers/hostBrowser.js';
import {
  type GatewayUnderTest,
  type StackConfig,
  startGateway,
  startHostsGateway,
} from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import { connect, startWsUpstream } from '../helpers/websocket.js';

/**
 * Many applications behind one gateway (docs/routes.md), over real sockets: every `*.gatehouse.test`
 * name resolves to 127.0.0.1 in HostBrowser, whose cookie jar keeps cookies per host as a browser does.
 */
interface Echo {
  url: string;
  headers: Record<string, string>;
}

async function startRoutes(
  routes: (up: { grafana: EchoUpstream; admin: EchoUpstream }) => unknown[],
  extra: StackConfig = {},
) {
  const grafana = await startEchoUpstream();
  const admin = await startEchoUpstream();
  // One redirect URI for every route: publicUrl's callback.
  const { idp, gw, port, close } = await startHostsGateway({
    upstream: grafana.url,
    config: { routes: routes({ grafana, admin }), ...extra },
  });
  const at = (host: string, path = '/') => `http://${host}.gatehouse.test:${port}${path}`;
  return {
    idp,
    grafana,
    admin,
    gw,
    at,
    async close() {
      await close();
      await grafana.close();
      await admin.close();
    },
  };
}

type Routed = Awaited<ReturnType<typeof startRoutes>>;

function twoHosts(up: { grafana: EchoUpstream; admin: EchoUpstream }) {
  return [
    {
      host: 'grafana.gatehouse.test',
      upstream: up.grafana.url,
      allowedGroups: ['dev'],
      skipAuth: ['/public'],
      methodsWithoutAuth: ['OPTIONS'],
      headers: { passAccessToken: true, templates: { 'X-Grafana-Login': '{{claims.preferred_username}}' } },
    },
    {
      id: 'admin',
      host: 'admin.gatehouse.test',
      upstream: up.admin.url,
      rules: [{ pathPrefix: '/danger', allowedGroups: ['admins'] }],
      websocket: false,
    },
  ];
}

describe('routes: two hosts, two upstreams, one sign-in', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes(twoHosts);
  });
  after(() => s.close());

  it('each host reaches its own upstream, with its own policy, after one sign-in at the provider', async () => {
    const b = new HostBrowser();
    const hops = await b.follow(s.at('grafana', '/d/home?orgId=1'));
    const last = hops.at(-1)!;
    assert.equal(last.status, 200, hops.map((h) => `${h.status} ${h.url}`).join('\n'));
    const echo = last.json<Echo>();
    assert.equal(echo.url, '/d/home?orgId=1');
    assert.equal(echo.headers['x-forwarded-user'], 'alice');
    assert.ok(echo.headers['x-forwarded-access-token'], 'grafana route: passAccessToken');
    assert.equal(echo.headers['x-grafana-login'], 'alice', 'grafana route: its own templated header');
    assert.equal(s.grafana.hits, 1);
    assert.equal(s.idp.stats().grants.authorization_code, 1);
    // The callback is publicUrl's: one redirect URI for every route.
    assert.ok(hops.some((h) => h.url.startsWith(`${s.gw.cfg.publicUrl}/oauth2/callback?`)));
    // The second host: no second sign-in at the provider, a ticket hand-off instead.
    const second = await b.follow(s.at('admin', '/reports'));
    assert.equal(second.at(-1)!.status, 200, second.map((h) => `${h.status} ${h.url}`).join('\n'));
    const adminEcho = second.at(-1)!.json<Echo>();
    assert.equal(adminEcho.url, '/reports');
    assert.equal(adminEcho.headers['x-forwarded-user'], 'alice');
    assert.equal(adminEcho.headers['x-forwarded-access-token'], undefined, 'admin route forwards no token');
    assert.equal(adminEcho.headers['x-grafana-login'], undefined, "grafana's template is not admin's");
    // ...and a client cannot send it to admin either: every route's template names are ours.
    const forged = await b.request(s.at('admin', '/x'), { headers: { 'x-grafana-login': 'root' } });
    assert.equal(forged.json<Echo>().headers['x-grafana-login'], undefined);
    assert.equal(s.idp.stats().grants.authorization_code, 1, 'one login at the provider serves both hosts');
    assert.ok(second.some((h) => new URL(h.url).pathname === '/oauth2/session'));
    // alice is in admins: /danger on admin is hers.
    assert.equal((await b.request(s.at('admin', '/danger/drop'))).status, 200);
    // Each host has its own host-only cookie: grafana's is not admin's.
    assert.ok(b.cookie(s.at('grafana'), 'gatehouse'));
    assert.ok(b.cookie(s.at('admin'), 'gatehouse'));
    assert.equal(b.cookie(s.at('other'), 'gatehouse'), undefined);
  });

  it('route policies differ: bob (dev, not admins) gets grafana and admin, but not admin /danger', async () => {
    const b = new HostBrowser();
    const start = await b.request(s.at('grafana', '/'));
    assert.equal(start.status, 302);
    const idpUrl = new URL((await b.follow(start.location!, { max: 1 }))[0]!.location!);
    idpUrl.searchParams.set('login_hint', 'bob');
    const hops = await b.follow(idpUrl.href);
    assert.equal(hops.at(-1)!.status, 200);
    assert.equal(hops.at(-1)!.json<Echo>().headers['x-forwarded-user'], 'bob');
    await b.follow(s.at('admin', '/'));
    const danger = await b.request(s.at('admin', '/Danger/x'), { kind: 'api' });
    assert.equal(danger.status, 403, 'the route rule covers every case spelling');
    assert.match(danger.body, /admins/);
  });

  it('a user outside the route group is refused there (carol is in no group)', async () => {
    const b = new HostBrowser();
    const start = await b.request(s.at('grafana', '/'));
    const idpUrl = new URL((await b.follow(start.location!, { max: 1 }))[0]!.location!);
    idpUrl.searchParams.set('login_hint', 'carol');
    const hops = await b.follow(idpUrl.href);
    assert.equal(hops.at(-1)!.status, 403);
    const before = s.grafana.hits;
    assert.equal((await b.request(s.at('grafana', '/x'), { kind: 'api' })).status, 403);
    assert.equal(s.grafana.hits, before, 'the upstream never sees a refused request');
  });

  it('a host no route serves gets 404 (JSON for an API call, a page for a navigation), never an upstream', async () => {
    const hits = s.grafana.hits + s.admin.hits;
    const b = new HostBrowser();
    const api = await b.request(s.at('unknown', '/'), { kind: 'api' });
    assert.equal(api.status, 404);
    assert.equal(api.json().error, 'not_found');
    assert.ok(api.headers['x-request-id']);
    const page = await b.request(s.at('unknown', '/'));
    assert.equal(page.status, 404);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.equal(s.grafana.hits + s.admin.hits, hits);
  });

  it('per-route skipAuth and methodsWithoutAuth: open on grafana only', async () => {
    const b = new HostBrowser();
    const open = await b.request(s.at('grafana', '/public/logo.svg'), { kind: 'api' });
    assert.equal(open.status, 200);
    assert.equal(open.json<Echo>().headers['x-forwarded-user'], undefined);
    assert.equal((await b.request(s.at('admin', '/public/logo.svg'), { kind: 'api' })).status, 401);
    const preflight = await b.request(s.at('grafana', '/api/ds'), { kind: 'api', method: 'OPTIONS' });
    assert.equal(preflight.status, 200);
    assert.equal((await b.request(s.at('admin', '/api/ds'), { kind: 'api', method: 'OPTIONS' })).status, 401);
    assert.equal(
      (await b.request(s.at('grafana', '/api/ds'), { kind: 'api' })).status,
      401,
      'GET still needs a session',
    );
  });

  it('a client cannot pick the route with its own X-Forwarded-Host (no trusted proxy)', async () => {
    const b = new HostBrowser();
    const r = await b.request(s.at('unknown', '/public/x'), {
      kind: 'api',
      headers: { 'x-forwarded-host': 'grafana.gatehouse.test' },
    });
    assert.equal(r.status, 404);
  });

  it('rd may return to a route host, and to no other host', async () => {
    const b = new HostBrowser();
    const toRoute = await b.request(
      `${s.gw.cfg.publicUrl}/oauth2/start?rd=${encodeURIComponent(s.at('admin', '/x'))}`,
    );
    assert.equal(toRoute.status, 302);
    const flowOk = await b.follow(toRoute.location!, { max: 2 });
    assert.equal(new URL(flowOk.at(-1)!.location!, s.gw.cfg.publicUrl).host, new URL(s.at('admin')).host);
    const evil = await b.request(
      `${s.gw.cfg.publicUrl}/oauth2/start?rd=${encodeURIComponent('http://evil.example/x')}`,
    );
    const flowEvil = await b.follow(evil.location!, { max: 2 });
    assert.equal(flowEvil.at(-1)!.location, '/');
  });
});

describe('routes: the hand-off ticket is single-use, for one host, for one browser', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes(twoHosts);
  });
  after(() => s.close());

  /** Signs in on grafana, then asks admin for its ticket: returns the ticket URL, not yet redeemed. */
  async function ticketFor(b: HostBrowser): Promise<string> {
    await b.follow(s.at('grafana', '/'));
    const hops = await b.follow(s.at('admin', '/page'), { max: 2 });
    const ticketUrl = hops.at(-1)!.location!;
    assert.equal(new URL(ticketUrl).pathname, '/oauth2/session', ticketUrl);
    return ticketUrl;
  }

  it('the ticket works once in the browser it was issued to', async () => {
    const b = new HostBrowser();
    const ticketUrl = await ticketFor(b);
    const used = await b.request(ticketUrl);
    assert.equal(used.status, 302);
    assert.equal(used.location, s.at('admin', '/page'));
    assert.ok(b.cookie(s.at('admin'), 'gatehouse'));
    // The same browser, bind cookie and all: the ticket still does not work twice (a replayed URL).
    assert.ok(b.cookie(s.at('admin'), 'gatehouse_bind'));
    const again = await b.request(ticketUrl, { kind: 'api' });
    assert.equal(again.status, 400);
    assert.match(again.json<{ reason: string }>().reason, /used already/);
  });

  it('another browser (no bind cookie of its own) cannot redeem it: no login CSRF, no leaked-link takeover', async () => {
    const victim = new HostBrowser();
    const ticketUrl = await ticketFor(new HostBrowser());
    const r = await victim.request(ticketUrl, { kind: 'api' });
    assert.equal(r.status, 400);
    assert.equal(r.json().error, 'handoff_invalid');
    assert.ok(r.json().requestId);
    assert.equal(victim.cookie(s.at('admin'), 'gatehouse'), undefined);
  });

  it('two tabs signing in on one host at once both land (one bind cookie, two tickets)', async () => {
    const b = new HostBrowser();
    await b.follow(s.at('grafana', '/'));
    const tab1 = await b.follow(s.at('admin', '/one'), { max: 2 });
    const tab2 = await b.follow(s.at('admin', '/two'), { max: 2 });
    const [t1, t2] = [tab1.at(-1)!.location!, tab2.at(-1)!.location!];
    assert.equal((await b.request(t2)).location, s.at('admin', '/two'));
    assert.equal((await b.request(t1)).location, s.at('admin', '/one'));
  });

  it('a ticket for admin does not open grafana, and a forged ticket is refused', async () => {
    const b = new HostBrowser();
    const ticketUrl = new URL(await ticketFor(b));
    ticketUrl.hostname = 'grafana.gatehouse.test';
    assert.equal((await b.request(ticketUrl.href)).status, 400);
    const forged = await b.request(s.at('admin', '/oauth2/session?ticket=v2.AAAA.BBBB.CCCC'));
    assert.equal(forged.status, 400);
  });
});

describe('routes: session.cookieDomain shares one cookie across hosts', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes(twoHosts, { session: { cookieDomain: '.gatehouse.test' } } as StackConfig);
  });
  after(() => s.close());

  it('after one sign-in every host under the domain is served with no hand-off hop', async () => {
    const b = new HostBrowser();
    const hops = await b.follow(s.at('grafana', '/'));
    assert.equal(hops.at(-1)!.status, 200);
    assert.ok(!hops.some((h) => new URL(h.url).pathname === '/oauth2/session'));
    const admin = await b.request(s.at('admin', '/x'));
    assert.equal(admin.status, 200, 'the first request on the second host is served');
    assert.equal(admin.json<Echo>().headers['x-forwarded-user'], 'alice');
    assert.equal(s.idp.stats().grants.authorization_code, 1);
  });
});

describe('routes: path prefixes on one host', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes((up) => [
      { id: 'grafana', pathPrefix: '/grafana', upstream: up.grafana.url, stripPathPrefix: true },
      { id: 'rest', pathPrefix: '/', upstream: up.admin.url },
    ]);
  });
  after(() => s.close());

  it('routes by segment-bounded prefix in any case, strips it when told, and refuses a path two routes could claim', async () => {
    const b = new HostBrowser();
    await b.follow(s.at('auth', '/'));
    const g = await b.request(s.at('auth', '/Grafana/api/health?x=1'));
    assert.equal(g.status, 200);
    assert.equal(g.json<Echo>().url, '/api/health?x=1');
    assert.equal((await b.request(s.at('auth', '/grafana'))).json<Echo>().url, '/');
    const rest = await b.request(s.at('auth', '/grafanax'));
    assert.equal(rest.json<Echo>().url, '/grafanax', 'not under /grafana: the next route');
    const hits = s.grafana.hits + s.admin.hits;
    // Under /grafana as written; `/admin` (the other route) for a server that decodes %2F.
    const ambiguous = await b.request(s.at('auth', '/grafana/..%2Fadmin'), { kind: 'api' });
    assert.equal(ambiguous.status, 400, ambiguous.body);
    assert.equal(s.grafana.hits + s.admin.hits, hits);
  });
});

describe('routes: forward-auth answers per route', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes(() => [
      { host: 'grafana.gatehouse.test', allowedGroups: ['admins'] },
      { host: 'admin.gatehouse.test', skipAuth: ['/'] },
    ]);
  });
  after(() => s.close());

  it('the described host chooses the route: its policy, or 404 for a host no route serves', async () => {
    const ask = (host: string) =>
      new HostBrowser().request(`${s.gw.cfg.publicUrl}/oauth2/auth`, {
        kind: 'api',
        headers: {
          'x-forwarded-host': host,
          'x-forwarded-uri': '/x',
          'x-forwarded-method': 'GET',
          'x-forwarded-proto': 'http',
        },
      });
    assert.equal((await ask('admin.gatehouse.test')).status, 202);
    assert.equal((await ask('grafana.gatehouse.test')).status, 401);
    assert.equal((await ask('nobody.gatehouse.test')).status, 404);
  });
});

describe('routes: configuration errors name the route and the fix', () => {
  it('upstream with routes, an unreachable route, a duplicate id, a cookieDomain the callback is outside of', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const base = {
      publicUrl: 'https://auth.example.com',
      provider: { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
      session: { secret: 'x'.repeat(40), cookieDomain: '.example.com' },
    };
    const problems = (extra: Record<string, unknown>) => {
      try {
        loadConfig({ object: { ...base, ...extra }, env: {} });
        return '';
      } catch (err) {
        return String((err as Error & { problems?: string[] }).problems ?? err);
      }
    };
    assert.match(
      problems({ upstream: 'http://a:1', routes: [{ upstream: 'http://b:1' }] }),
      /upstream: cannot be used together with routes/,
    );
    assert.match(
      problems({ routes: [{ upstream: 'http://a:1' }, { host: 'x.example.com', upstream: 'http://b:1' }] }),
      /routes\[1\]: unreachable — routes\[0\]/,
    );
    assert.match(
      problems({
        routes: [
          { host: '*.example.com', upstream: 'http://a:1' },
          { host: 'x.example.com', upstream: 'http://b:1' },
        ],
      }),
      /routes\[1\]: unreachable/,
    );
    assert.match(
      problems({
        routes: [
          { pathPrefix: '/a', upstream: 'http://a:1' },
          { pathPrefix: '/A/', upstream: 'http://b:1' },
        ],
      }),
      /routes\[1\]: duplicate of routes\[0\]/,
    );
    assert.match(
      problems({
        routes: [
          { id: 'x', host: 'a.example.com' },
          { id: 'x', host: 'b.example.com' },
        ],
      }),
      /routes\[1\]\.id: "x" is already the id of routes\[0\]/,
    );
    assert.match(problems({ routes: [{ host: 'bad host' }] }), /routes\.0\.host: must be a host name/);
    assert.match(
      problems({ session: { secret: 'x'.repeat(40), cookieDomain: '.other.com' } }),
      /session\.cookieDomain: \.other\.com does not cover publicUrl's host auth\.example\.com/,
    );
    assert.equal(
      problems({
        routes: [
          { host: 'x.example.com', upstream: 'http://b:1' },
          { host: '*.example.com', upstream: 'http://a:1' },
          { upstream: 'http://c:1' },
        ],
      }),
      '',
      'specific first, then wildcard, then any host: all reachable',
    );
  });
});

describe('routes: WebSockets per route', () => {
  let idp: Awaited<ReturnType<typeof startTestIdp>>;
  let ws: Awaited<ReturnType<typeof startWsUpstream>>;
  let gw: GatewayUnderTest;
  before(async () => {
    idp = await startTestIdp();
    ws = await startWsUpstream();
    gw = await startGateway({
      issuer: idp.issuer,
      upstream: ws.url,
      config: {
        routes: [
          { id: 'live', pathPrefix: '/live', upstream: ws.url },
          { id: 'app', upstream: ws.url, websocket: false },
        ],
      } as unknown as StackConfig,
    });
  });
  after(async () => {
    await gw.close();
    await ws.close();
    await idp.stop();
  });

  it('a route with websocket: true tunnels the socket, one with websocket: false refuses it (403)', async () => {
    const b = new TestBrowser();
    await b.follow(`${gw.url}/`);
    const cookie = `gatehouse=${b.cookie(gw.url, 'gatehouse')}`;
    const wsUrl = gw.url.replace('http:', 'ws:');
    const open = await connect(`${wsUrl}/live/feed`, { cookie });
    assert.ok(open.ws, `upgrade refused: ${open.status} ${open.body}`);
    open.ws.send('hi');
    const [msg] = await once(open.ws, 'message');
    assert.equal(String(msg), 'echo:hi');
    open.ws.close();
    const seen = ws.seen.length;
    const refused = await connect(`${wsUrl}/feed`, { cookie });
    assert.equal(refused.status, 403);
    assert.match(refused.body ?? '', /route app/);
    assert.equal(ws.seen.length, seen, 'the upstream never saw the refused upgrade');
  });
});

describe('routes: the signed identity assertion names its route', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes(twoHosts, { headers: { assertion: true } } as StackConfig);
  });
  after(() => s.close());

  it("each route's upstream gets an assertion with its own aud; one replayed on another route fails verification", async () => {
    const b = new HostBrowser();
    const g = (await b.follow(s.at('grafana', '/'))).at(-1)!.json<Echo>().headers['x-gatehouse-assertion']!;
    const a = (await b.follow(s.at('admin', '/'))).at(-1)!.json<Echo>().headers['x-gatehouse-assertion']!;
    const jwks = createLocalJWKSet(
      (await b.request(`${s.gw.cfg.publicUrl}/oauth2/jwks`, { kind: 'api' })).json(),
    );
    const issuer = s.gw.cfg.publicUrl;
    const gv = await jwtVerify(g, jwks, { issuer, audience: 'grafana.gatehouse.test' });
    assert.equal(gv.payload.sub, 'usr_alice');
    await jwtVerify(a, jwks, { issuer, audience: 'admin' });
    await assert.rejects(jwtVerify(a, jwks, { issuer, audience: 'grafana.gatehouse.test' }), /aud/);
  });
});
