import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getJson, relyingParty, useTestIdp } from './helpers.js';

describe('discovery and JWKS', () => {
  const idp = useTestIdp();

  it('serves an OpenID configuration an RP library accepts', async () => {
    assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(idp.issuer, `http://127.0.0.1:${idp.port}`);
    const config = await relyingParty(idp);
    const m = config.serverMetadata();
    assert.equal(m.issuer, idp.issuer);
    assert.equal(m.authorization_endpoint, `${idp.issuer}/authorize`);
    assert.equal(m.token_endpoint, `${idp.issuer}/token`);
    assert.equal(m.userinfo_endpoint, `${idp.issuer}/userinfo`);
    assert.equal(m.jwks_uri, `${idp.issuer}/jwks`);
    assert.equal(m.revocation_endpoint, `${idp.issuer}/revoke`);
    assert.equal(m.end_session_endpoint, `${idp.issuer}/end-session`);
    assert.ok(m.scopes_supported?.includes('offline_access'));
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(m.token_endpoint_auth_methods_supported, [
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
    assert.equal(m.registration_endpoint, `${idp.issuer}/register`);
    assert.deepEqual(m.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
    assert.equal(m.backchannel_logout_supported, true);
    assert.equal(m.backchannel_logout_session_supported, true);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
  });

  it('publishes one RS256 and one ES256 public key, each with a kid', async () => {
    const { status, json, headers } = await getJson(`${idp.issuer}/jwks`);
    assert.equal(status, 200);
    assert.match(headers.get('content-type') ?? '', /json/);
    const keys = json.keys as Record<string, unknown>[];
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    for (const k of keys) {
      assert.equal(typeof k.kid, 'string');
      assert.equal(k.use, 'sig');
      assert.equal(k.d, undefined, 'private key material must never be published');
    }
  });

  it('discovery-down answers 503 until switched off at runtime', async () => {
    idp.setProfiles(['discovery-down']);
    const down = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(down.status, 503);
    assert.equal(down.json.error, 'temporarily_unavailable');
    idp.setProfiles([]);
    assert.equal((await getJson(`${idp.issuer}/.well-known/openid-configuration`)).status, 200);
  });

  it('google hides offline_access; cognito hides offline_access and end_session_endpoint', async () => {
    idp.setProfiles(['google']);
    let doc = (await getJson(`${idp.issuer}/.well-known/openid-configuration`)).json;
    assert.ok(!(doc.scopes_supported as string[]).includes('offline_access'));
    assert.ok(doc.end_session_endpoint);
    idp.setProfiles(['cognito']);
    doc = (await getJson(`${idp.issuer}/.well-known/openid-configuration`)).json;
    assert.equal(doc.end_session_endpoint, undefined);
    assert.ok(!(doc.scopes_supported as string[]).includes('offline_access'));
    idp.setProfiles([]);
  });

  it('counts discovery and jwks requests', async () => {
    idp.reset();
    await getJson(`${idp.issuer}/.well-known/openid-configuration`);
    await getJson(`${idp.issuer}/jwks`);
    await getJson(`${idp.issuer}/jwks`);
    const s = idp.stats();
    assert.equal(s.requests.discovery, 1);
    assert.equal(s.requests.jwks, 2);
  });
});
