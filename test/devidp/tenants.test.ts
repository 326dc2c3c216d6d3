// Tenants (issuerPaths, --issuer-path): independent issuers at <root>/<name> next to the root one,
// over real sockets. Logins go through the login page (no auto-login), so the page's form, the
// RFC 9207 iss and the per-tenant SSO cookie are all exercised.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { DevIdp, DevIdpIssuer } from '../../src/devidp/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import {
  admin,
  authorizationRequest,
  basicAuth,
  client,
  getJson,
  REDIRECT_URI,
  relyingParty,
  startTestIdp,
  userinfo,
} from './helpers.js';

const A = 'realms/main';
const B = 'acme-tenant/v2.0';

interface PageLogin {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
  /** `name=value` of the SSO cookie the IdP set. */
  cookie: string;
  setCookie: string;
}

/** authorize → login page → POST its form as `user` → the callback URL and the SSO cookie. */
async function pageLogin(config: client.Configuration, user = 'bob'): Promise<PageLogin> {
  const { url, verifier, state, nonce } = await authorizationRequest(config);
  const page = await fetch(url, { redirect: 'manual' });
  assert.equal(page.status, 200, 'authorize shows the login page');
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const interaction = /name="interaction" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(action && interaction, 'login page has a form with an interaction');
  const posted = await fetch(new URL(action, url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ interaction, user }).toString(),
  });
  assert.equal(posted.status, 302, `login answered ${posted.status}: ${await posted.text()}`);
  const setCookie = posted.headers.get('set-cookie') ?? '';
  return {
    callback: new URL(posted.headers.get('location') ?? ''),
    verifier,
    state,
    nonce,
    cookie: setCookie.split(';')[0] ?? '',
    setCookie,
  };
}

async function codeGrant(config: client.Configuration, l: PageLogin) {
  return client.authorizationCodeGrant(config, l.callback, {
    pkceCodeVerifier: l.verifier,
    expectedState: l.state,
    expectedNonce: l.nonce,
  });
}

/** A prompt=none authorization with `cookie`: the error, or undefined when a code came back. */
async function silent(config: client.Configuration, cookie: string): Promise<string | undefined> {
  const { url } = await authorizationRequest(config, { prompt: 'none' });
  const res = await fetch(url, { redirect: 'manual', headers: { cookie } });
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get('location') ?? '');
  assert.equal(back.origin + back.pathname, REDIRECT_URI);
  return back.searchParams.get('error') ?? (back.searchParams.has('code') ? undefined : 'no code');
}

function introspect(issuer: DevIdpIssuer, token: string) {
  return getJson(`${issuer.issuer}/introspect`, {
    method: 'POST',
    headers: { authorization: basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
}

const discovery = (i: DevIdpIssuer) => getJson(`${i.issuer}/.well-known/openid-configuration`);

describe('dev IdP tenants (issuerPaths)', () => {
  let idp: DevIdp;
  let a: DevIdpIssuer;
  let b: DevIdpIssuer;
  before(async () => {
    idp = await startTestIdp({ autoLogin: undefined, issuerPaths: [A, B] });
    a = idp.tenant(A);
    b = idp.tenant(B);
  });
  after(() => idp.stop());

  it('each issuer has its own discovery document: its issuer, every endpoint under its path', async () => {
    assert.equal(a.issuer, `${idp.issuer}/${A}`);
    assert.equal(b.issuer, `${idp.issuer}/${B}`);
    const root = (await discovery(idp)).json;
    assert.equal(root.issuer, idp.issuer);
    assert.equal(root.token_endpoint, `${idp.issuer}/token`);
    for (const t of [a, b]) {
      const res = await discovery(t);
      assert.equal(res.status, 200);
      // The same document as the root's, with the tenant's issuer in every URL.
      const expected = JSON.parse(JSON.stringify(root).replaceAll(`"${idp.issuer}`, `"${t.issuer}`));
      assert.deepEqual(res.json, expected);
      assert.equal(res.json.issuer, t.issuer);
      for (const [key, value] of Object.entries(res.json)) {
        if (!key.endsWith('_endpoint') && key !== 'jwks_uri') continue;
        assert.ok(String(value).startsWith(`${t.issuer}/`), `${key} ${value}`);
        // Every endpoint answers at the tenant (a method or parameter error, never a 404).
        assert.notEqual((await fetch(String(value))).status, 404, `${key} ${value}`);
      }
    }
    const kids = async (i: DevIdpIssuer) =>
      ((await getJson(`${i.issuer}/jwks`)).json.keys as Array<{ kid: string }>).map((k) => k.kid);
    const [rk, ak, bk] = await Promise.all([kids(idp), kids(a), kids(b)]);
    assert.equal(new Set([...rk, ...ak, ...bk]).size, rk.length + ak.length + bk.length, 'own keys each');
  });

  it('a code flow on a tenant: ID token iss is the tenant, verifies only with its own JWKS', async () => {
    for (const i of [idp, a, b]) i.reset();
    const config = await relyingParty(a);
    const l = await pageLogin(config, 'bob');
    assert.equal(l.callback.searchParams.get('iss'), a.issuer, 'RFC 9207 iss is the tenant');
    const tokens = await codeGrant(config, l);
    assert.equal(tokens.claims()?.iss, a.issuer);
    assert.equal(tokens.claims()?.sub, 'usr_bob');
    const idToken = tokens.id_token ?? '';
    const jwks = (i: DevIdpIssuer) => createRemoteJWKSet(new URL(`${i.issuer}/jwks`));
    const { payload } = await jwtVerify(idToken, jwks(a), { issuer: a.issuer, audience: 'gatehouse' });
    assert.equal(payload.iss, a.issuer);
    for (const other of [idp, b])
      await assert.rejects(jwtVerify(idToken, jwks(other)), joseErrors.JWKSNoMatchingKey);
    assert.equal(a.stats().grants.authorization_code, 1);
    assert.equal(idp.stats().grants.authorization_code, 0);
    assert.equal(b.stats().requests.token, 0);
  });

  it("a tenant's access token is refused by another tenant's userinfo and introspection", async () => {
    const config = await relyingParty(a);
    const tokens = await codeGrant(config, await pageLogin(config));
    const at = tokens.access_token;
    assert.equal((await userinfo(a, at)).status, 200);
    assert.equal((await introspect(a, at)).json.active, true);
    assert.equal((await introspect(a, at)).json.iss, a.issuer);
    for (const other of [b, idp]) {
      assert.equal((await userinfo(other, at)).status, 401, other.issuer);
      assert.deepEqual((await introspect(other, at)).json, { active: false });
    }
  });

  it('the SSO cookie is per issuer: a login at one tenant is no session at another', async () => {
    const configA = await relyingParty(a);
    const l = await pageLogin(configA);
    assert.match(
      l.setCookie,
      /^gatehouse_devidp_sid\.realms\.main=[A-Za-z0-9_-]+; Path=\/realms\/main; HttpOnly/,
    );
    assert.equal(await silent(configA, l.cookie), undefined, 'prompt=none at the same tenant succeeds');
    assert.equal(await silent(await relyingParty(b), l.cookie), 'login_required');
    assert.equal(await silent(await relyingParty(idp), l.cookie), 'login_required');
    // One browser logged in at the root and at both tenants keeps all three sessions: no
    // issuer's cookie replaces another's (the root's is Path=/, so it reaches tenants too).
    const rootLogin = await pageLogin(await relyingParty(idp));
    assert.match(rootLogin.setCookie, /^gatehouse_devidp_sid=[^;]+; Path=\/;/);
    const bLogin = await pageLogin(await relyingParty(b));
    const jar = new Map<string, string>();
    for (const c of [l.cookie, rootLogin.cookie, bLogin.cookie]) {
      const eq = c.indexOf('=');
      jar.set(c.slice(0, eq), c.slice(eq + 1));
    }
    assert.equal(jar.size, 3, 'three cookies, one per issuer');
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    for (const i of [idp, a, b])
      assert.equal(await silent(await relyingParty(i), cookie), undefined, i.issuer);
    assert.equal(await silent(await relyingParty(b), rootLogin.cookie), 'login_required');
  });

  it('profiles and faults set on one tenant (admin API or handle) leave the others alone', async () => {
    const put = await admin(a, 'PUT', 'profiles', { profiles: ['discovery-down'] });
    assert.deepEqual(put.json, { profiles: ['discovery-down'] });
    assert.deepEqual(a.profiles(), ['discovery-down']);
    assert.equal((await discovery(a)).status, 503);
    assert.equal((await discovery(b)).status, 200);
    assert.equal((await discovery(idp)).status, 200);
    assert.deepEqual((await admin(idp, 'GET', 'profiles')).json, { profiles: [] });
    a.setProfiles([]);
    assert.equal((await discovery(a)).status, 200);

    b.reset();
    const rules = await admin(b, 'POST', 'faults', {
      rules: [{ endpoint: 'jwks', kind: 'status', status: 500 }],
    });
    assert.equal(rules.status, 200);
    assert.equal((await fetch(`${b.issuer}/jwks`)).status, 500);
    assert.equal((await fetch(`${a.issuer}/jwks`)).status, 200);
    assert.equal((await fetch(`${idp.issuer}/jwks`)).status, 200);
    assert.deepEqual((await admin(a, 'GET', 'faults')).json, { rules: [] });
    assert.deepEqual(b.stats().faults.jwks, { fired: 1 });
    assert.deepEqual(a.stats().faults.jwks, { fired: 0 });
    assert.deepEqual((await admin(b, 'GET', 'stats')).json, b.stats());
    await admin(b, 'DELETE', 'faults');
    assert.equal((await fetch(`${b.issuer}/jwks`)).status, 200);
  });

  it('claims and users added on one tenant exist only there', async () => {
    const added = await admin(b, 'POST', 'users', {
      sub: 'u-dana',
      username: 'dana',
      email: 'dana@example.com',
      name: 'Dana',
      groups: [],
      roles: [],
    });
    assert.equal(added.status, 201);
    const names = async (i: DevIdpIssuer) =>
      ((await admin(i, 'GET', 'users')).json.users as Array<{ username: string }>).map((u) => u.username);
    assert.ok((await names(b)).includes('dana'));
    assert.ok(!(await names(a)).includes('dana'));
    assert.ok(!(await names(idp)).includes('dana'));
    b.setClaims({ user: 'dana', claims: { tier: 'gold' } });
    assert.equal(b.pendingClaims().length, 1);
    assert.deepEqual(a.pendingClaims(), []);
    assert.deepEqual((await admin(idp, 'GET', 'claims')).json, { claims: [] });
    const config = await relyingParty(b);
    const tokens = await codeGrant(config, await pageLogin(config, 'dana'));
    assert.equal(tokens.claims()?.tier, 'gold');
    b.clearClaims();
  });

  it('GET /__admin/tenants lists the tenants; a tenant admin API is its own, same origin rule', async () => {
    const list = await admin(idp, 'GET', 'tenants');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, {
      tenants: [A, B].map((name) => ({
        name,
        issuer: `${idp.issuer}/${name}`,
        discovery: `${idp.issuer}/${name}/.well-known/openid-configuration`,
        admin: `${idp.issuer}/${name}/__admin/`,
      })),
    });
    assert.equal((await admin(a, 'GET', 'tenants')).status, 404);
    assert.equal((await admin(a, 'GET', 'nope')).status, 404);
    const reset = (origin: string) =>
      fetch(`${a.issuer}/__admin/reset`, { method: 'POST', headers: { origin } });
    assert.equal((await reset('http://evil.example')).status, 403);
    assert.equal(
      (await reset(new URL(idp.issuer).origin)).status,
      200,
      'the page origin of a tenant is the root origin',
    );
    assert.deepEqual(idp.tenants(), [A, B]);
    assert.throws(
      () => idp.tenant('realms'),
      /no tenant "realms" \(tenants: realms\/main, acme-tenant\/v2.0\)/,
    );
  });

  it('the device grant runs at a tenant: its page, its approval, its issuer', async () => {
    const form = (i: DevIdpIssuer, path: string, params: Record<string, string>) =>
      getJson(`${i.issuer}${path}`, {
        method: 'POST',
        headers: { authorization: basicAuth(), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
      });
    const started = await form(a, '/device_authorization', { scope: 'openid email' });
    assert.equal(started.status, 200);
    const { device_code, user_code, verification_uri, verification_uri_complete } = started.json as Record<
      string,
      string
    >;
    assert.equal(verification_uri, `${a.issuer}/device`);
    const page = await (await fetch(verification_uri_complete ?? '')).text();
    assert.match(page, /<form method="post" action="\/realms\/main\/device"/);
    assert.equal((await admin(b, 'POST', 'device/approve', { user_code, user: 'carol' })).status, 404);
    assert.equal((await admin(a, 'POST', 'device/approve', { user_code, user: 'carol' })).status, 200);
    const grant = {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: device_code ?? '',
    };
    assert.equal((await form(b, '/token', grant)).json.error, 'invalid_grant');
    const tokens = await form(a, '/token', grant);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    const idToken = String(tokens.json.id_token);
    await jwtVerify(idToken, createRemoteJWKSet(new URL(`${a.issuer}/jwks`)), { issuer: a.issuer });
  });

  it("a tenant's live console and its feeds show that tenant's requests only", async () => {
    const page = await fetch(`${b.issuer}/__admin/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes(b.issuer), 'the page names the tenant issuer');
    // The page's script calls its admin API relative to the page, i.e. under the tenant.
    assert.ok(!html.includes("fetch('/__admin/'"), 'no root-absolute admin calls');
    const before = (await admin(a, 'GET', 'events')).json.latest as number;
    await fetch(`${b.issuer}/jwks?tenant-b-marker`);
    const seen = async (i: DevIdpIssuer) =>
      (
        (await admin(i, 'GET', `events?since=${i === a ? before : 0}`)).json.events as Array<{
          endpoint: string;
        }>
      ).map((e) => e.endpoint);
    assert.ok((await seen(b)).includes('/jwks'));
    assert.ok(!(await seen(a)).includes('/jwks'), "tenant A's feed has none of B's requests");
  });

  it("a tenant's pages name its own paths, and unknown paths under it are its 404s", async () => {
    const page = await fetch(a.issuer);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /href="\/realms\/main\/\.well-known\/openid-configuration"/);
    const missing = await getJson(`${a.issuer}/nope`);
    assert.equal(missing.status, 404);
    // Not a tenant: a path that only starts like one is the root's.
    assert.equal((await fetch(`${idp.issuer}/realms/mainx/.well-known/openid-configuration`)).status, 404);
    assert.equal((await fetch(`${idp.issuer}/realms/.well-known/openid-configuration`)).status, 404);
  });
});

describe('dev IdP issuerPaths validation', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['authorize', /issuerPaths: "authorize" clashes with the root issuer's endpoint \/authorize/],
    ['token/x', /clashes with the root issuer's endpoint \/token/],
    ['.well-known', /clashes/],
    ['__admin', /__admin/],
    ['t/__admin', /must not have an "__admin" segment/],
    ['a/../b', /"\." or "\.\." segment/],
    ['/realms/main', /must not start or end with "\/"/],
    ['a//b', /segments of A-Z/],
    ['a b', /segments of A-Z/],
    ['a%2Fb', /segments of A-Z/],
    ['', /non-empty/],
  ];
  for (const [name, message] of bad) {
    it(`refuses ${JSON.stringify(name)}`, async () => {
      await assert.rejects(startTestIdp({ issuerPaths: [name as string] }), message);
    });
  }
  it('refuses a name given twice or one inside another', async () => {
    await assert.rejects(startTestIdp({ issuerPaths: ['t', 't'] }), /"t" is given twice/);
    await assert.rejects(startTestIdp({ issuerPaths: ['t', 't/v2.0'] }), /"t\/v2.0" overlaps "t"/);
  });
});

describe('gatehouse dev-idp --issuer-path', () => {
  it('serves a tenant and prints its issuer after the start line', async () => {
    const child = spawnCli(['dev-idp', '--port', '0', '--quiet', '--issuer-path', A]);
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = String((await lines.next()).value);
    const root = /^dev-idp listening on (http:\/\/127\.0\.0\.1:\d+) \(profiles: none\)$/.exec(first)?.[1];
    assert.ok(root, `unexpected start line: ${first}`);
    assert.equal(String((await lines.next()).value), `dev-idp tenant issuer ${root}/${A}`);
    const doc = (await (await fetch(`${root}/${A}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
    };
    assert.equal(doc.issuer, `${root}/${A}`);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
  });

  it('--help describes the flag', async () => {
    const run = await runCli(['dev-idp', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--issuer-path NAME +also serve an independent issuer at <root>\/NAME/);
  });

  it('a bad name exits 2 with an error naming the flag', async () => {
    for (const name of ['authorize', 'a/../b', 'x/__admin']) {
      const run = await runCli([
        'dev-idp',
        '--port',
        '0',
        '--issuer-path',
        'realms/main',
        '--issuer-path',
        name,
      ]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        new RegExp(`^gatehouse dev-idp: --issuer-path: issuerPaths: "${name.replace(/\./g, '\\.')}"`),
      );
      assert.equal(run.stdout, '');
    }
  });
});
