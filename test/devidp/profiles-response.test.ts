import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  authorize,
  client,
  codeGrantRequest,
  type RawResponse,
  tokenRequest,
  useRelyingParty,
  useTestIdp,
} from './helpers.js';

describe('token response shape profiles', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  beforeEach(() => idp.setProfiles([]));

  /** A code grant and a refresh by hand, so the raw JSON is seen as a relying party gets it. */
  async function codeAndRefresh(): Promise<[RawResponse, RawResponse]> {
    const code = await codeGrantRequest(idp, await authorize(rp.config));
    assert.equal(code.status, 200, JSON.stringify(code.json));
    const refresh = await tokenRequest(idp, {
      grant_type: 'refresh_token',
      refresh_token: String(code.json.refresh_token),
    });
    assert.equal(refresh.status, 200, JSON.stringify(refresh.json));
    return [code, refresh];
  }

  it('without a profile: token_type "Bearer", scope and a numeric expires_in', async () => {
    for (const r of await codeAndRefresh()) {
      assert.equal(r.json.token_type, 'Bearer');
      assert.equal(typeof r.json.scope, 'string');
      assert.equal(r.json.expires_in, 300);
    }
  });

  it('token-type-lowercase: token_type "bearer" on code and refresh grants', async () => {
    idp.setProfiles(['token-type-lowercase']);
    for (const r of await codeAndRefresh()) {
      assert.equal(r.json.token_type, 'bearer');
      assert.ok(r.json.id_token, 'the tokens themselves are unchanged');
    }
  });

  it('scope-omitted: no scope member, everything else as usual', async () => {
    idp.setProfiles(['scope-omitted']);
    for (const r of await codeAndRefresh()) {
      assert.equal('scope' in r.json, false);
      assert.equal(r.json.token_type, 'Bearer');
      assert.ok(r.json.access_token);
    }
  });

  it('expires-in-string: expires_in is the string "300"', async () => {
    idp.setProfiles(['expires-in-string']);
    for (const r of await codeAndRefresh()) assert.equal(r.json.expires_in, '300');
  });

  it('client_credentials responses get the same shape', async () => {
    idp.setProfiles(['token-type-lowercase', 'scope-omitted', 'expires-in-string']);
    const r = await tokenRequest(idp, { grant_type: 'client_credentials' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.token_type, 'bearer');
    assert.equal('scope' in r.json, false);
    assert.equal(r.json.expires_in, '300');
  });

  it('openid-client (what Gatehouse uses) accepts token-type-lowercase and scope-omitted', async () => {
    idp.setProfiles(['token-type-lowercase', 'scope-omitted']);
    const a = await authorize(rp.config);
    const tokens = await client.authorizationCodeGrant(rp.config, a.callback, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
      expectedNonce: a.nonce,
    });
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.scope, undefined);
    assert.equal(tokens.claims()?.sub, 'usr_alice');
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    assert.ok(refreshed.access_token);
  });

  it('openid-client (what Gatehouse uses) turns expires-in-string back into the number Gatehouse expects', async () => {
    idp.setProfiles(['expires-in-string']);
    const a = await authorize(rp.config);
    const tokens = await client.authorizationCodeGrant(rp.config, a.callback, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
      expectedNonce: a.nonce,
    });
    // oauth4webapi parses a string expires_in; Gatehouse's accessExpiry then sees a number.
    assert.equal(tokens.expires_in, 300);
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    assert.equal(refreshed.expires_in, 300);
  });
});
