import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { sha256b64url } from '../../src/util/crypto.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { HostBrowser } from '../helpers/hostBrowser.js';
import { freePort } from '../helpers/ports.js';
import { type StackConfig, startGateway } from '../helpers/stack.js';
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
  const port = await freePort();
  const idp = await startTestIdp({ redirectUris: [`http://auth.gatehouse.test:${port}/oauth2/callback`] });
  const grafana: EchoUpstream = await startEchoUpstream();
  const gw = await startGateway({
    issuer: idp.issuer,
    upstream: grafana.url,
    port,
    publicUrl: `http://auth.gatehouse.test:${port}`,
    config: {
      routes: [
        { host: 'grafana.gatehouse.test', upstream: grafana.url },
        { host: '*.apps.gatehouse.test', upstream: grafana.url },
      ],
      ...extra,
    } as StackConfig,
  });
  const at = (host: string, path = '/') => `http://${host}:${port}${path}`;
  return {
    port,
    gw,
    at,
    async close() {
      await gw.close();
      await grafana.close();
      await idp.stop();
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
