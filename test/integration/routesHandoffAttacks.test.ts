import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sha256b64url } from '../../src/util/crypto.js';
import { HostBrowser } from '../helpers/hostBrowser.js';
import { type StackConfig, startHostsGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * An attacker's view of the cross-host hand-off (docs/routes.md): `hb` at /oauth2/start is the
 * attacker's to choose, so a ticket minted for a signed-in victim is bound to the attacker's own
 * bind cookie. The ticket must therefore never be sent to a host that is not surely Gatehouse's:
 * whoever receives it there can redeem it (they pick Host themselves when talking to Gatehouse)
 * and gets the victim's session cookie in the Set-Cookie.
 */

interface Echo {
  url: string;
  headers: Record<string, string>;
}

/** A raw request to the gateway with a Host header of the attacker's choosing. */
function rawGet(
  port: number,
  host: string,
  path: string,
  cookie?: string,
): Promise<{ status: number; setCookies: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { host, accept: 'application/json', ...(cookie ? { cookie } : {}) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, setCookies: res.headers['set-cookie'] ?? [], body }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function startRoutes(extra: StackConfig = {}) {
  const grafana: EchoUpstream = await startEchoUpstream();
  const { gw, port, close } = await startHostsGateway({
    upstream: grafana.url,
    config: {
      routes: [
        { host: 'grafana.gatehouse.test', upstream: grafana.url },
        { host: 'x.apps.gatehouse.test', upstream: grafana.url },
      ],
      ...extra,
    },
  });
  const at = (host: string, path = '/') => `http://${host}:${port}${path}`;
  return {
    port,
    gw,
    at,
    async close() {
      await close();
      await grafana.close();
    },
  };
}

type Routed = Awaited<ReturnType<typeof startRoutes>>;

/**
 * The victim (signed in) opens the attacker's link; returns where the gateway sends the victim's
 * browser — a host the attacker listens on, in each case below.
 */
async function victimFollowsCraftedStart(s: Routed, rd: string, bindHash: string): Promise<string> {
  const victim = new HostBrowser();
  const signedIn = await victim.follow(s.at('grafana.gatehouse.test', '/'));
  assert.equal(signedIn.at(-1)!.status, 200);
  const crafted = `${s.gw.cfg.publicUrl}/oauth2/start?rd=${encodeURIComponent(rd)}&hb=${bindHash}`;
  const r = await victim.request(crafted);
  return r.location ?? '';
}

/** The attacker redeems a captured ticket with their own bind value; returns the session cookie, if any. */
async function attackerRedeems(s: Routed, ticketUrl: string, bind: string): Promise<string | undefined> {
  const u = new URL(ticketUrl);
  const r = await rawGet(s.port, u.host, u.pathname + u.search, `gatehouse_bind=${bind}`);
  const line = r.setCookies.find((c) => c.startsWith('gatehouse='));
  return line?.slice('gatehouse='.length).split(';')[0];
}

/** Whether a session cookie value opens grafana as the victim. */
async function opensGrafana(s: Routed, cookie: string): Promise<boolean> {
  const r = await rawGet(s.port, `grafana.gatehouse.test:${s.port}`, '/', `gatehouse=${cookie}`);
  return r.status === 200 && (JSON.parse(r.body) as Echo).headers['x-forwarded-user'] === 'alice';
}

describe('hand-off attacks: a ticket never travels to a host that may not be Gatehouse', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes({ login: { allowedRedirectHosts: ['partner.example'] } } as StackConfig);
  });
  after(() => s.close());

  it('login.allowedRedirectHosts (a plain return target, not behind Gatehouse) gets no ticket', async () => {
    const bind = 'attacker-chosen-bind-value';
    const loc = await victimFollowsCraftedStart(s, 'http://partner.example/landing', sha256b64url(bind));
    const stolen = new URL(loc, s.gw.cfg.publicUrl).pathname === '/oauth2/session' ? loc : undefined;
    const cookie = stolen ? await attackerRedeems(s, stolen, bind) : undefined;
    assert.equal(cookie, undefined, `the victim's session was handed to partner.example: ${loc}`);
  });

  it('a route host on another port (a port Gatehouse does not listen on) gets no ticket', async () => {
    const bind = 'attacker-chosen-bind-value-2';
    const other = s.port === 65000 ? 65001 : 65000;
    const loc = await victimFollowsCraftedStart(
      s,
      `http://grafana.gatehouse.test:${other}/`,
      sha256b64url(bind),
    );
    const target = new URL(loc, s.gw.cfg.publicUrl);
    const stolen = target.pathname === '/oauth2/session' && target.port === String(other) ? loc : undefined;
    const cookie = stolen ? await attackerRedeems(s, stolen, bind) : undefined;
    assert.ok(!cookie || !(await opensGrafana(s, cookie)), `ticket sent to port ${other}: ${loc}`);
    assert.equal(cookie, undefined);
  });
});

describe('hand-off attacks: a wildcard route host', () => {
  it('is a start-up error outside session.cookieDomain: every name under it would be handed sessions', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const object = {
      publicUrl: 'https://auth.gatehouse.test',
      provider: { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
      session: { secret: 'x'.repeat(40) },
      routes: [{ host: '*.apps.gatehouse.test', upstream: 'http://a:1' }],
    };
    assert.throws(
      () => loadConfig({ object, env: {} }),
      (err: Error & { problems?: string[] }) =>
        (err.problems ?? []).some((p) =>
          /routes\[0\]\.host: \*\.apps\.gatehouse\.test is a wildcard outside session\.cookieDomain/.test(p),
        ),
    );
    // Covered by the cookie domain, it is accepted: every name under it shares the cookie by choice.
    loadConfig({
      object: { ...object, session: { ...object.session, cookieDomain: '.gatehouse.test' } },
      env: {},
    });
  });

  it('even when configured (with cookieDomain), a wildcard name never receives a ticket', async () => {
    const app = await startEchoUpstream();
    const s = await startRoutes({
      routes: [
        { host: 'grafana.gatehouse.test', upstream: app.url },
        { host: '*.apps.gatehouse.test', upstream: app.url },
      ],
      session: { cookieDomain: '.gatehouse.test' },
    } as unknown as StackConfig);
    try {
      const loc = await victimFollowsCraftedStart(
        s,
        s.at('evil.apps.gatehouse.test', '/'),
        sha256b64url('b'),
      );
      assert.notEqual(new URL(loc, s.gw.cfg.publicUrl).pathname, '/oauth2/session', loc);
    } finally {
      await s.close();
      await app.close();
    }
  });
});

/** A raw HTTP/1.1 exchange: the status line and the body. */
function rawExchange(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.1', () => sock.write(text));
    let out = '';
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      out += c;
    });
    sock.on('error', reject);
    sock.on('close', () => {
      const [head = '', body = ''] = out.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), body });
    });
  });
}

describe('Host spellings no route names never reach the catch-all route', () => {
  let port: number;
  let close: () => Promise<void>;
  let catchAll: EchoUpstream;
  before(async () => {
    const admin = await startEchoUpstream();
    catchAll = await startEchoUpstream();
    const started = await startHostsGateway({
      upstream: admin.url,
      config: {
        routes: [
          { id: 'admin', host: 'admin.gatehouse.test', upstream: admin.url, allowedGroups: ['admins'] },
          { id: 'apps', host: '*.apps.gatehouse.test', upstream: admin.url },
          // e.g. an ingress that serves the public site — and routes by Host itself.
          { id: 'site', upstream: catchAll.url, skipAuth: ['/'] },
        ],
        // A wildcard route host needs the cookie domain (a start-up error otherwise).
        session: { cookieDomain: '.gatehouse.test' },
      },
    });
    port = started.port;
    close = async () => {
      await started.close();
      await admin.close();
      await catchAll.close();
    };
  });
  after(() => close());

  const get = (host: string, path = '/x', accept = 'application/json') =>
    rawExchange(
      port,
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\naccept: ${accept}\r\nconnection: close\r\n\r\n`,
    );

  it('a trailing dot or userinfo in Host is refused (400); another case is the same route', async () => {
    for (const host of ['admin.gatehouse.test.', `admin.gatehouse.test.:${port}`, 'admin.gatehouse.test@x']) {
      const r = await get(host);
      assert.equal(r.status, 400, `${host}: ${r.body}`);
    }
    assert.equal(catchAll.hits, 0, 'the catch-all upstream never saw the admin host');
    assert.equal(
      (await get('ADMIN.Gatehouse.Test')).status,
      401,
      'any case: the admin route, signed in or not',
    );
    assert.equal((await get('www.gatehouse.test')).status, 200, 'a name no route names: the catch-all');
  });

  it('a malformed Host at /oauth2/start is a 400, not a 500', async () => {
    for (const host of ['a b.apps.gatehouse.test', `a%b.apps.gatehouse.test:${port}`]) {
      const r = await get(host, '/oauth2/start?rd=%2F', 'text/html');
      assert.equal(r.status, 400, host);
    }
  });
});

describe('signing out on a route host', () => {
  let s: Routed;
  before(async () => {
    s = await startRoutes();
  });
  after(() => s.close());

  it("the host's own Sign out button (a same-origin POST there) ends the one session on every host", async () => {
    const b = new HostBrowser();
    assert.equal((await b.follow(s.at('grafana.gatehouse.test', '/'))).at(-1)!.status, 200);
    assert.equal((await b.follow(s.at('x.apps.gatehouse.test', '/'))).at(-1)!.status, 200);
    const origin = s.at('x.apps.gatehouse.test', '/').replace(/\/$/, '');
    const out = await b.request(s.at('x.apps.gatehouse.test', '/oauth2/logout'), {
      method: 'POST',
      headers: { origin, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'navigate' },
    });
    assert.equal(out.status, 303, out.body.slice(0, 200));
    assert.equal((await b.request(s.at('grafana.gatehouse.test', '/x'), { kind: 'api' })).status, 401);
    // Another site's form posting there is still refused (CSRF), as on publicUrl's host.
    const b2 = new HostBrowser();
    await b2.follow(s.at('grafana.gatehouse.test', '/'));
    await b2.follow(s.at('x.apps.gatehouse.test', '/'));
    const forged = await b2.request(s.at('x.apps.gatehouse.test', '/oauth2/logout'), {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(forged.status, 403);
    assert.equal((await b2.request(s.at('grafana.gatehouse.test', '/x'), { kind: 'api' })).status, 200);
  });
});
