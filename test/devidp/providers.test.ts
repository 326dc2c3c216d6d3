import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DevIdp } from '../../src/devidp/index.js';
import {
  authorize,
  client,
  getJson,
  login,
  REDIRECT_URI,
  relyingParty,
  startIdp,
  tokenRequest,
} from './helpers.js';

// One IdP for the file; each provider's tests switch to its profile first, as a tester would.
let idp: DevIdp;
let config: client.Configuration;
before(async () => {
  idp = await startIdp();
  config = await relyingParty(idp);
});
after(() => idp.stop());

describe('google profile', () => {
  before(() => idp.setProfiles(['google']));

  const scope = 'openid email profile';

  it('rejects the offline_access scope with invalid_scope', async () => {
    const a = await authorize(config);
    assert.equal(a.callback.searchParams.get('error'), 'invalid_scope');
    assert.equal(a.callback.searchParams.get('state'), a.state);
  });

  it('no refresh token without access_type=offline', async () => {
    assert.equal((await login(config, { scope, login_hint: 'carol' })).refresh_token, undefined);
  });

  it('refresh token on the first offline login only, later ones need prompt=consent', async () => {
    const offline = { scope, login_hint: 'bob', access_type: 'offline' };
    assert.ok((await login(config, offline)).refresh_token, 'first offline consent');
    assert.equal((await login(config, offline)).refresh_token, undefined, 'repeat login');
    assert.ok((await login(config, { ...offline, prompt: 'consent' })).refresh_token, 'prompt=consent');
  });
});

describe('github profile', () => {
  before(() => idp.setProfiles(['github']));

  async function githubLogin() {
    const a = await authorize(config, { scope: 'read:user user:email' });
    return client.authorizationCodeGrant(config, a.callback, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
    });
  }

  it('token response: access_token, token_type, scope; no ID token, no refresh token', async () => {
    const a = await authorize(config, { scope: 'read:user user:email' });
    const r = await tokenRequest(idp, {
      grant_type: 'authorization_code',
      code: a.callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: a.verifier,
    });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'scope', 'token_type']);
    assert.equal(r.json.scope, 'read:user,user:email');
    assert.match(String(r.json.access_token), /^gho_/);
  });

  it('identity comes from /user and /user/emails, both requiring the token', async () => {
    const tokens = await githubLogin();
    assert.equal(tokens.id_token, undefined);
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const user = await getJson(`${idp.issuer}/user`, { headers: auth });
    assert.equal(user.status, 200);
    assert.equal(user.json.login, 'alice');
    assert.equal(typeof user.json.id, 'number');
    assert.equal(user.json.name, 'Alice Admin');
    assert.equal(user.json.email, 'alice@example.com');
    const emails = await getJson(`${idp.issuer}/user/emails`, { headers: auth });
    const list = emails.json as unknown as { email: string; primary: boolean; verified: boolean }[];
    assert.ok(Array.isArray(list));
    assert.deepEqual(
      list.filter((e) => e.primary && e.verified).map((e) => e.email),
      ['alice@example.com'],
    );
    assert.equal((await getJson(`${idp.issuer}/user`)).status, 401);
    assert.equal(
      (await getJson(`${idp.issuer}/user/emails`, { headers: { authorization: 'Bearer nope' } })).status,
      401,
    );
  });

  it('accepts scopes without openid', async () => {
    const tokens = await githubLogin();
    assert.ok(tokens.access_token);
    assert.equal(tokens.refresh_token, undefined);
  });
});

describe('cognito profile', () => {
  before(() => idp.setProfiles(['cognito']));

  it('/logout?client_id=&logout_uri= redirects to the loopback logout_uri', async () => {
    const target = 'http://127.0.0.1:51999/signed-out';
    const url = `${idp.issuer}/logout?client_id=gatehouse&logout_uri=${encodeURIComponent(target)}`;
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), target);
  });

  it('/logout refuses a foreign logout_uri or client with a page, not a redirect', async () => {
    const evil = `${idp.issuer}/logout?client_id=gatehouse&logout_uri=${encodeURIComponent('https://evil.example/')}`;
    for (const url of [
      evil,
      `${idp.issuer}/logout?client_id=other&logout_uri=http://127.0.0.1/x`,
      `${idp.issuer}/logout`,
    ]) {
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      await res.text();
    }
  });

  it('issues a refresh token without offline_access, as Cognito does', async () => {
    assert.ok((await login(config, { scope: 'openid email' })).refresh_token);
  });
});
