import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import type { DevIdp } from '../../src/devidp/index.js';
import { documentedBlock, substitute } from '../frontdoors/helpers.js';
import { type ApacheProcess, loadModule, startApache } from '../helpers/apache.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { freePort } from '../helpers/ports.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * The dev IdP with a certified relying party that is not Gatehouse (issue 15, part 7): Apache with
 * mod_auth_openidc from Debian (2.4.12 in bookworm) in front of an echo upstream, configured with
 * exactly the site block of docs/dev-idp.md ("Using it with any relying party"). Code flow with
 * PKCE, claims as headers, one refresh when the access token expires, logout through the IdP's
 * end_session_endpoint. Nothing here is tuned to Gatehouse: if the dev IdP spoke a dialect,
 * mod_auth_openidc would refuse it.
 */

/** The dev IdP's access-token lifetime here; the documented block refreshes with 1 s left. */
const ACCESS_TOKEN_TTL = 3;

interface Echo {
  url: string;
  headers: Record<string, string | undefined>;
}

interface IdpEvent {
  endpoint: string;
  method: string;
  status: number;
  grantType?: string;
}

interface Family {
  sub: string;
  sessionLive: boolean;
  refreshes: number;
}

const jti = (jwt: string) => String(decodeJwt(jwt).jti);

async function idpEvents(idp: DevIdp): Promise<IdpEvent[]> {
  const r = await fetch(`${idp.issuer}/__admin/events?since=0`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { events: IdpEvent[] }).events;
}

async function idpFamilies(idp: DevIdp): Promise<Family[]> {
  const r = await fetch(`${idp.issuer}/__admin/families`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { families: Family[] }).families;
}

describe('interop: Apache + mod_auth_openidc (Debian) with the dev IdP', () => {
  let idp: DevIdp;
  let upstream: EchoUpstream;
  let apache: ApacheProcess;
  let app: string;
  const browser = new TestBrowser();
  /** The access token the upstream got with the last request (mod_auth_openidc passes it on). */
  let accessToken: string;

  const echo = (r: Reply): Echo => {
    try {
      return r.json<Echo>();
    } catch {
      throw new Error(
        `not the upstream's echo (status ${r.status}): ${r.body.slice(0, 300)}\n${apache.output()}`,
      );
    }
  };

  before(async () => {
    const port = await freePort();
    app = `http://127.0.0.1:${port}`;
    // Exact redirect and post-logout URIs: mod_auth_openidc must send precisely what it is
    // configured with (the default client would accept any loopback URI).
    idp = await startTestIdp({
      accessTokenTtl: ACCESS_TOKEN_TTL,
      redirectUris: [`${app}/redirect_uri`],
      postLogoutRedirectUris: [`${app}/signed-out`],
    });
    upstream = await startEchoUpstream();
    const site = substitute(documentedBlock('apache-mod-auth-openidc', 'dev-idp.md'), {
      '127.0.0.1:9000': idp.issuer.replace('http://', ''),
      '127.0.0.1:8080': `127.0.0.1:${port}`,
      '127.0.0.1:3000': upstream.url.replace('http://', ''),
    });
    // The documented block assumes `a2enmod auth_openidc`; our own Apache loads the module itself.
    apache = await startApache({
      name: 'mod-auth-openidc',
      port,
      site: `${loadModule('auth_openidc')}\n${site}`,
    });
  });

  after(async () => {
    await apache?.stop();
    await upstream?.close();
    await idp?.stop();
  });

  it('code flow: Apache sends the browser through the dev IdP (PKCE S256) and the upstream gets the claims', async () => {
    const hops = await browser.follow(`${app}/reports/q3?format=html`);
    const statuses = hops.map((h) => h.status);
    assert.deepEqual(
      statuses,
      [302, 302, 302, 200],
      `hops: ${hops.map((h) => `${h.status} ${h.location}`).join(', ')}`,
    );

    const authorize = new URL(hops[0]!.location!);
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${idp.issuer}/authorize`);
    assert.equal(authorize.searchParams.get('client_id'), 'gatehouse');
    assert.equal(authorize.searchParams.get('response_type'), 'code');
    assert.equal(authorize.searchParams.get('redirect_uri'), `${app}/redirect_uri`);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authorize.searchParams.get('code_challenge') ?? '', /^[\w-]{43}$/);
    assert.deepEqual(authorize.searchParams.get('scope')?.split(' ').sort(), [
      'email',
      'offline_access',
      'openid',
      'profile',
    ]);
    const callback = new URL(hops[1]!.location!);
    assert.equal(`${callback.origin}${callback.pathname}`, `${app}/redirect_uri`);
    assert.equal(callback.searchParams.get('iss'), idp.issuer, 'RFC 9207 iss in the response');
    assert.equal(new URL(hops[2]!.location!, app).pathname, '/reports/q3', 'back where the user started');

    const seen = echo(hops[3]!);
    assert.equal(seen.url, '/reports/q3?format=html');
    assert.equal(seen.headers.oidc_claim_sub, 'usr_alice');
    assert.equal(seen.headers.oidc_claim_email, 'alice@example.com');
    accessToken = String(seen.headers.oidc_access_token);
    assert.equal(decodeJwt(accessToken).sub, 'usr_alice', 'the dev IdP’s access token is passed on');

    const s = idp.stats();
    assert.equal(s.grants.authorization_code, 1, 'one code grant');
    assert.equal(s.grants.refresh_token, 0);
    // The code was redeemed with the verifier: the dev IdP refuses a PKCE code without it.
    const token = (await idpEvents(idp)).filter((e) => e.endpoint === '/token');
    assert.deepEqual(
      token.map((e) => [e.grantType, e.status]),
      [['authorization_code', 200]],
    );
  });

  it('the session cookie carries the next request without the IdP', async () => {
    const before = idp.stats();
    const r = await browser.request(`${app}/reports/q4`);
    assert.equal(r.status, 200);
    assert.equal(echo(r).headers.oidc_claim_sub, 'usr_alice');
    const now = idp.stats();
    assert.equal(now.requests.authorize, before.requests.authorize, 'no new login');
    assert.equal(now.requests.token, before.requests.token, 'no token request: the access token is fresh');
  });

  it('once the access token expires, the next request makes exactly one refresh_token grant and still answers 200', async () => {
    // mod_auth_openidc keeps the expiry as its own clock's second + expires_in and refreshes when
    // fewer than OIDCRefreshAccessTokenBeforeExpiry (1) seconds are left. Its clock is Apache's,
    // not the dev IdP's (the `clock` option cannot move it), and it emits nothing to await: the
    // test waits for the deadline itself. By the token's `exp` (iat + 3) Apache's threshold
    // (its second of receipt, at most iat + 1, plus 3 - 1) has passed for certain.
    const exp = Number(decodeJwt(accessToken).exp) * 1000;
    const wait = exp - Date.now();
    assert.ok(wait <= ACCESS_TOKEN_TTL * 1000, `the token expires within its TTL (${wait} ms)`);
    if (wait > 0) await sleep(wait);
    assert.equal(idp.stats().grants.refresh_token, 0, 'nothing refreshes without a request');

    const r = await browser.request(`${app}/reports/q1`);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const seen = echo(r);
    assert.equal(seen.headers.oidc_claim_sub, 'usr_alice');
    const refreshed = String(seen.headers.oidc_access_token);
    // Compared by jti: a failure message should not print whole tokens.
    assert.notEqual(jti(refreshed), jti(accessToken), 'the upstream gets the new access token');
    assert.ok(Number(decodeJwt(refreshed).exp) * 1000 > exp);
    assert.equal(idp.stats().grants.refresh_token, 1, 'one refresh grant');

    // The new token is fresh: further requests need no grant (exactly one refresh, not one per request).
    for (const path of ['/reports/q2', '/reports/q3']) {
      const again = await browser.request(`${app}${path}`);
      assert.equal(again.status, 200);
      assert.equal(jti(String(echo(again).headers.oidc_access_token)), jti(refreshed));
    }
    const s = idp.stats();
    assert.equal(s.grants.refresh_token, 1, 'still exactly one refresh grant');
    assert.equal(s.grants.authorization_code, 1, 'and no new login');
    assert.deepEqual(s.errors, {}, 'the dev IdP answered no request with an error');
    const [family] = await idpFamilies(idp);
    assert.equal(family?.sub, 'usr_alice');
    assert.equal(family?.refreshes, 1);
    accessToken = refreshed;
  });

  it('logout through mod_auth_openidc reaches the dev IdP’s end_session endpoint, and the session is gone', async () => {
    const landing = `${app}/signed-out`;
    const hops = await browser.follow(`${app}/redirect_uri?logout=${encodeURIComponent(landing)}`);
    assert.deepEqual(
      hops.map((h) => h.status),
      [302, 302, 200],
      `hops: ${hops.map((h) => `${h.status} ${h.location}`).join(', ')}`,
    );
    const endSession = new URL(hops[0]!.location!);
    assert.equal(`${endSession.origin}${endSession.pathname}`, `${idp.issuer}/end-session`);
    assert.equal(endSession.searchParams.get('post_logout_redirect_uri'), landing);
    assert.equal(decodeJwt(endSession.searchParams.get('id_token_hint') ?? '').sub, 'usr_alice');
    assert.equal(hops[1]!.location, landing, 'the dev IdP sends the browser back');
    assert.equal(echo(hops[2]!).headers.oidc_claim_sub, undefined, 'the landing page is not protected');

    const ended = (await idpEvents(idp)).filter((e) => e.endpoint === '/end-session');
    assert.deepEqual(
      ended.map((e) => [e.method, e.status]),
      [['GET', 302]],
    );
    const [family] = await idpFamilies(idp);
    assert.equal(family?.sessionLive, false, 'the IdP’s login session ended');

    const hits = upstream.hits;
    const next = await browser.request(`${app}/reports/q1`);
    assert.equal(next.status, 302, 'no session at Apache any more');
    assert.equal(new URL(next.location!).pathname, '/authorize');
    assert.equal(new URL(next.location!).origin, idp.issuer);
    assert.equal(upstream.hits, hits, 'the upstream was not reached');
  });
});
