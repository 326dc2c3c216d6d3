import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authorize,
  claimsOf,
  client,
  codeGrantRequest,
  decodeProtectedHeader,
  login,
  REDIRECT_URI,
  rejectsWithOAuthError,
  relyingParty,
  tokenRequest,
  useRelyingParty,
  userinfo,
  useTestIdp,
  verifyWithJwks,
} from './helpers.js';

describe('authorization code flow with PKCE', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  it('issues a verifiable ID token with the documented claims', async () => {
    const tokens = await login(rp.config, { scope: 'openid email profile' });
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 300);
    assert.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access');
    const id = tokens.claims();
    assert.ok(id);
    assert.equal(id.iss, idp.issuer);
    assert.equal(id.sub, 'usr_alice');
    assert.equal(id.aud, 'gatehouse');
    assert.equal(id.azp, 'gatehouse');
    assert.equal(typeof id.sid, 'string');
    assert.equal(typeof id.auth_time, 'number');
    assert.equal(id.exp - id.iat, 300);
    assert.equal(id.email, 'alice@example.com');
    assert.equal(id.email_verified, true);
    assert.equal(id.name, 'Alice Admin');
    assert.equal(id.preferred_username, 'alice');
    assert.deepEqual(id.groups, ['admins', 'dev']);
    assert.deepEqual(id.roles, ['admin']);
    assert.equal(decodeProtectedHeader(tokens.id_token ?? '').alg, 'RS256');
    const verified = await verifyWithJwks(idp, tokens.id_token ?? '');
    assert.equal(verified.sub, 'usr_alice');
  });

  it('passes openid-client non-repudiation checks (signature against the JWKS)', async () => {
    const strict = await relyingParty(idp);
    client.enableNonRepudiationChecks(strict);
    const tokens = await login(strict);
    assert.equal(tokens.claims()?.sub, 'usr_alice');
  });

  it('issues JWT access tokens (typ at+jwt) that userinfo accepts', async () => {
    const tokens = await login(rp.config);
    const header = decodeProtectedHeader(tokens.access_token);
    assert.equal(header.typ, 'at+jwt');
    const at = claimsOf(tokens.access_token);
    assert.equal(at.sub, 'usr_alice');
    assert.equal((at.exp ?? 0) - (at.iat ?? 0), 300);
    const info = await client.fetchUserInfo(rp.config, tokens.access_token, 'usr_alice');
    assert.equal(info.email, 'alice@example.com');
    assert.deepEqual(info.groups, ['admins', 'dev']);
  });

  it('authenticates with client_secret_basic as well as client_secret_post', async () => {
    const basic = await relyingParty(idp, 'basic');
    const tokens = await login(basic);
    assert.ok(tokens.access_token);
  });

  it('a known login_hint overrides --auto-login (username or e-mail)', async () => {
    assert.equal((await login(rp.config, { login_hint: 'bob' })).claims()?.sub, 'usr_bob');
    const carol = (await login(rp.config, { login_hint: 'carol@other.example' })).claims();
    assert.equal(carol?.sub, 'usr_carol');
    assert.deepEqual(carol?.groups, []);
    assert.equal((await login(rp.config, { login_hint: 'nobody' })).claims()?.sub, 'usr_alice');
  });

  it('answers with state and iss (RFC 9207) on the callback', async () => {
    const a = await authorize(rp.config);
    assert.equal(a.callback.origin + a.callback.pathname, REDIRECT_URI);
    assert.equal(a.callback.searchParams.get('state'), a.state);
    assert.equal(a.callback.searchParams.get('iss'), idp.issuer);
    assert.ok(a.callback.searchParams.get('code'));
  });

  it('rejects a wrong PKCE verifier and burns the code', async () => {
    const a = await authorize(rp.config);
    const wrong = client.randomPKCECodeVerifier();
    await rejectsWithOAuthError(
      client.authorizationCodeGrant(rp.config, a.callback, {
        pkceCodeVerifier: wrong,
        expectedState: a.state,
        expectedNonce: a.nonce,
      }),
      'invalid_grant',
    );
    await rejectsWithOAuthError(
      client.authorizationCodeGrant(rp.config, a.callback, {
        pkceCodeVerifier: a.verifier,
        expectedState: a.state,
        expectedNonce: a.nonce,
      }),
      'invalid_grant',
    );
  });

  it('requires a code_verifier at the token endpoint', async () => {
    const a = await authorize(rp.config);
    const r = await tokenRequest(idp, {
      grant_type: 'authorization_code',
      code: a.callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
  });

  it('rejects a redirect_uri that differs from the authorization request', async () => {
    const r = await codeGrantRequest(idp, await authorize(rp.config), {
      redirect_uri: 'http://127.0.0.1:51999/other',
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_grant');
  });

  it('a replayed code is invalid_grant and revokes the tokens issued from it', async () => {
    const a = await authorize(rp.config);
    const params = {
      grant_type: 'authorization_code',
      code: a.callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: a.verifier,
    };
    const first = await tokenRequest(idp, params);
    assert.equal(first.status, 200);
    const accessToken = String(first.json.access_token);
    const refreshToken = String(first.json.refresh_token);
    assert.equal((await userinfo(idp, accessToken)).status, 200);

    const replay = await tokenRequest(idp, params);
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, 'invalid_grant');
    assert.equal((await userinfo(idp, accessToken)).status, 401);
    const refresh = await tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: refreshToken });
    assert.equal(refresh.json.error, 'invalid_grant');
  });

  it('counts successful code grants', async () => {
    idp.reset();
    await login(rp.config);
    const s = idp.stats();
    assert.equal(s.grants.authorization_code, 1);
    assert.equal(s.requests.authorize, 1);
    assert.equal(s.requests.token, 1);
  });
});

describe('registered redirect URIs', () => {
  const idp = useTestIdp({ redirectUris: [REDIRECT_URI] });

  it('accepts the registered URI and refuses others with a page, never a redirect', async () => {
    const config = await relyingParty(idp);
    assert.ok((await login(config)).access_token);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:51999/elsewhere',
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /not registered/);
  });
});
