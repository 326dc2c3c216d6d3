import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import {
  authorize,
  client,
  codeGrantRequest,
  getJson,
  login,
  REDIRECT_URI,
  tokenRequest,
  useRelyingParty,
  userinfo,
  useTestIdp,
} from './helpers.js';

// One IdP for all of them; each provider's tests switch to its profile first, as a tester would.
describe('provider profiles', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  describe('google profile', () => {
    before(() => idp.setProfiles(['google']));

    const scope = 'openid email profile';

    it('rejects the offline_access scope with invalid_scope', async () => {
      const a = await authorize(rp.config);
      assert.equal(a.callback.searchParams.get('error'), 'invalid_scope');
      assert.equal(a.callback.searchParams.get('state'), a.state);
    });

    it('no refresh token without access_type=offline', async () => {
      assert.equal((await login(rp.config, { scope, login_hint: 'carol' })).refresh_token, undefined);
    });

    it('refresh token on the first offline login only, later ones need prompt=consent', async () => {
      const offline = { scope, login_hint: 'bob', access_type: 'offline' };
      assert.ok((await login(rp.config, offline)).refresh_token, 'first offline consent');
      assert.equal((await login(rp.config, offline)).refresh_token, undefined, 'repeat login');
      assert.ok((await login(rp.config, { ...offline, prompt: 'consent' })).refresh_token, 'prompt=consent');
    });
  });

  describe('github profile', () => {
    before(() => idp.setProfiles(['github']));

    async function githubLogin() {
      const a = await authorize(rp.config, { scope: 'read:user user:email' });
      return client.authorizationCodeGrant(rp.config, a.callback, {
        pkceCodeVerifier: a.verifier,
        expectedState: a.state,
      });
    }

    it('token response: access_token, token_type, scope; no ID token, no refresh token', async () => {
      const r = await codeGrantRequest(idp, await authorize(rp.config, { scope: 'read:user user:email' }));
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

    it('a dead code is answered like GitHub does: HTTP 200 with bad_verification_code', async () => {
      const a = await authorize(rp.config, { scope: 'read:user' });
      const r = await tokenRequest(idp, {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        redirect_uri: REDIRECT_URI,
        code_verifier: a.verifier,
      });
      assert.equal(r.status, 200);
      assert.equal(r.json.error, 'bad_verification_code');
      assert.equal(r.json.access_token, undefined);
    });

    it('orgs and teams need read:org; teams are paginated with a Link header; GHES paths answer too', async () => {
      const without = await githubLogin();
      const auth = { authorization: `Bearer ${without.access_token}` };
      assert.equal((await getJson(`${idp.issuer}/user/teams`, { headers: auth })).status, 403);
      assert.equal((await getJson(`${idp.issuer}/user/orgs`, { headers: auth })).status, 403);

      const a = await authorize(rp.config, { scope: 'read:user read:org', login_hint: 'alice' });
      const tokens = await client.authorizationCodeGrant(rp.config, a.callback, {
        pkceCodeVerifier: a.verifier,
        expectedState: a.state,
      });
      const bearer = { authorization: `Bearer ${tokens.access_token}` };
      const orgs = await getJson(`${idp.issuer}/api/v3/user/orgs`, { headers: bearer });
      assert.deepEqual(
        (orgs.json as unknown as Array<{ login: string }>).map((o) => o.login),
        ['example-org'],
      );
      const res = await fetch(`${idp.issuer}/api/v3/user/teams?per_page=1`, { headers: bearer });
      const teams = (await res.json()) as Array<{ slug: string; organization: { login: string } }>;
      assert.deepEqual(
        teams.map((t) => `${t.organization.login}/${t.slug}`),
        ['example-org/admins'],
      );
      assert.match(res.headers.get('link') ?? '', /page=2>; rel="next"/);
    });
  });

  describe('github-app profile', () => {
    before(() => idp.setProfiles(['github-app']));
    after(() => idp.setProfiles([]));

    it('expiring ghu_ tokens with a rotating refresh token; a reused one is bad_refresh_token (HTTP 200)', async () => {
      const a = await authorize(rp.config, { scope: 'read:user' });
      const tokens = await client.authorizationCodeGrant(rp.config, a.callback, {
        pkceCodeVerifier: a.verifier,
        expectedState: a.state,
      });
      assert.match(tokens.access_token, /^ghu_/);
      assert.equal(typeof tokens.expires_in, 'number');
      assert.ok(tokens.refresh_token);
      const first = await tokenRequest(idp, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      });
      assert.equal(first.status, 200);
      assert.ok(first.json.refresh_token && first.json.refresh_token !== tokens.refresh_token, 'rotated');
      assert.equal(first.json.id_token, undefined);
      const reused = await tokenRequest(idp, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      });
      assert.equal(reused.status, 200);
      assert.equal(reused.json.error, 'bad_refresh_token');
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
      assert.ok((await login(rp.config, { scope: 'openid email' })).refresh_token);
    });
  });
  describe('keycloak profile', () => {
    before(() => idp.setProfiles(['keycloak']));

    it('groups as full paths; realm roles (with Keycloak defaults) and client roles in the access token only', async () => {
      const tokens = await login(rp.config);
      const id = tokens.claims()!;
      assert.deepEqual(id.groups, ['/admins', '/dev']);
      assert.equal(id.realm_access, undefined);
      const at = decodeJwt(tokens.access_token);
      assert.deepEqual(at.realm_access, {
        roles: ['admin', 'offline_access', 'uma_authorization', 'default-roles-dev'],
      });
      assert.deepEqual(at.resource_access, { gatehouse: { roles: ['admin'] } });
      const info = (await userinfo(idp, tokens.access_token)).json;
      assert.deepEqual(info.groups, ['/admins', '/dev']);
      assert.equal(info.realm_access, undefined);
    });
  });

  describe('okta profile', () => {
    before(() => idp.setProfiles(['okta']));

    it('lists the groups scope, and sends groups only when it was requested', async () => {
      const meta = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
      assert.ok((meta.json.scopes_supported as string[]).includes('groups'));
      const without = await login(rp.config);
      assert.equal(without.claims()!.groups, undefined);
      assert.equal((await userinfo(idp, without.access_token)).json.groups, undefined);
      const withGroups = await login(rp.config, { scope: 'openid email profile groups' });
      assert.deepEqual(withGroups.claims()!.groups, ['admins', 'dev']);
      assert.deepEqual((await userinfo(idp, withGroups.access_token)).json.groups, ['admins', 'dev']);
    });
  });

  describe('auth0 profile', () => {
    before(() => idp.setProfiles(['auth0']));

    it('namespaced groups and roles; no end_session_endpoint', async () => {
      const id = (await login(rp.config)).claims()!;
      assert.deepEqual(id['https://example.com/groups'], ['admins', 'dev']);
      assert.deepEqual(id['https://example.com/roles'], ['admin']);
      assert.equal(id.groups, undefined);
      const meta = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
      assert.equal(meta.json.end_session_endpoint, undefined);
    });

    it('/v2/logout?client_id=&returnTo= redirects to a loopback returnTo, refuses others with a page', async () => {
      const target = 'http://127.0.0.1:51999/signed-out';
      const ok = await fetch(
        `${idp.issuer}/v2/logout?client_id=gatehouse&returnTo=${encodeURIComponent(target)}`,
        {
          redirect: 'manual',
        },
      );
      assert.equal(ok.status, 302);
      assert.equal(ok.headers.get('location'), target);
      for (const url of [
        `${idp.issuer}/v2/logout?client_id=gatehouse&returnTo=${encodeURIComponent('https://evil.example/')}`,
        `${idp.issuer}/v2/logout?client_id=other&returnTo=${encodeURIComponent(target)}`,
      ]) {
        const res = await fetch(url, { redirect: 'manual' });
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('location'), null);
        await res.text();
      }
    });
  });

  describe('gitlab profile', () => {
    before(() => idp.setProfiles(['gitlab']));

    it('groups_direct in the ID token, groups at userinfo; a refresh token without offline_access', async () => {
      const tokens = await login(rp.config, { scope: 'openid email profile' });
      const id = tokens.claims()!;
      assert.deepEqual(id.groups_direct, ['admins', 'dev']);
      assert.equal(id.groups, undefined);
      assert.equal(id.email_verified, true);
      const info = (await userinfo(idp, tokens.access_token)).json;
      assert.deepEqual(info.groups, ['admins', 'dev']);
      assert.equal(info.groups_direct, undefined);
      assert.ok(tokens.refresh_token);
      const meta = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
      assert.ok(!(meta.json.scopes_supported as string[]).includes('offline_access'));
    });
  });
});
