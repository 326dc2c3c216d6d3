import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimsOf,
  client,
  login,
  rejectsWithOAuthError,
  tokenRequest,
  useRelyingParty,
  userinfo,
  useTestIdp,
} from './helpers.js';

describe('refresh tokens: rotation and reuse detection', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  async function refreshToken(): Promise<string> {
    const rt = (await login(rp.config)).refresh_token;
    assert.ok(rt, 'offline_access must yield a refresh token');
    return rt;
  }

  it('rotates: each refresh returns a new refresh token and a new ID token for the same sub', async () => {
    const first = await login(rp.config);
    const rt1 = first.refresh_token ?? '';
    const r = await client.refreshTokenGrant(rp.config, rt1);
    assert.ok(r.refresh_token);
    assert.notEqual(r.refresh_token, rt1);
    assert.notEqual(r.access_token, first.access_token);
    const id = r.claims();
    assert.equal(id?.sub, 'usr_alice');
    assert.equal(id?.nonce, undefined, 'a refreshed ID token carries no nonce');
    assert.equal(id?.sid, first.claims()?.sid);
    assert.equal(id?.auth_time, first.claims()?.auth_time);
    assert.equal(r.expires_in, 300);
    const again = await client.refreshTokenGrant(rp.config, r.refresh_token);
    assert.ok(again.refresh_token);
  });

  it('reuse of a rotated token is invalid_grant and kills the newest token of the family', async () => {
    const rt1 = await refreshToken();
    const rt2 = (await client.refreshTokenGrant(rp.config, rt1)).refresh_token ?? '';
    await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, rt1), 'invalid_grant');
    await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, rt2), 'invalid_grant');
  });

  it('reuse detection revokes the access tokens of the family too', async () => {
    const tokens = await login(rp.config);
    const r = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    await rejectsWithOAuthError(
      client.refreshTokenGrant(rp.config, tokens.refresh_token ?? ''),
      'invalid_grant',
    );
    const info = await userinfo(idp, r.access_token);
    assert.equal(info.status, 401);
  });

  it('50 concurrent refreshes with one token: exactly one succeeds, and reuse then revokes it', async () => {
    const rt = await refreshToken();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => client.refreshTokenGrant(rp.config, rt)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal(failed.length, 49);
    for (const f of failed) assert.equal((f.reason as client.ResponseBodyError).error, 'invalid_grant');
    const winner = ok[0]?.status === 'fulfilled' ? ok[0].value.refresh_token : undefined;
    await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, winner ?? ''), 'invalid_grant');
  });

  it('250 concurrent raw refreshes with one token: exactly one 200', async () => {
    const rt = await refreshToken();
    const responses = await Promise.all(
      Array.from({ length: 250 }, () =>
        tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: rt }),
      ),
    );
    assert.equal(responses.filter((r) => r.status === 200).length, 1);
    assert.ok(responses.every((r) => r.status === 200 || r.json.error === 'invalid_grant'));
  });

  it('counts refresh grants and invalid_grant errors', async () => {
    const rt = await refreshToken();
    idp.reset();
    await client.refreshTokenGrant(rp.config, rt);
    await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, rt), 'invalid_grant');
    const s = idp.stats();
    assert.equal(s.grants.refresh_token, 1);
    assert.equal(s.errors.invalid_grant, 1);
    assert.equal(s.requests.token, 2);
  });

  it('allows a narrower scope on refresh and refuses a wider one without burning the token', async () => {
    const rt = await refreshToken();
    const wider = await tokenRequest(idp, {
      grant_type: 'refresh_token',
      refresh_token: rt,
      scope: 'openid admin',
    });
    assert.equal(wider.status, 400);
    assert.equal(wider.json.error, 'invalid_scope');
    const narrower = await tokenRequest(idp, {
      grant_type: 'refresh_token',
      refresh_token: rt,
      scope: 'openid',
    });
    assert.equal(narrower.status, 200);
    assert.equal(narrower.json.scope, 'openid');
    assert.equal(claimsOf(String(narrower.json.id_token)).sub, 'usr_alice');
  });

  it('RFC 7009 revocation: a refresh token revokes its family, unknown tokens still get 200', async () => {
    const tokens = await login(rp.config);
    await client.tokenRevocation(rp.config, tokens.refresh_token ?? '');
    await rejectsWithOAuthError(
      client.refreshTokenGrant(rp.config, tokens.refresh_token ?? ''),
      'invalid_grant',
    );
    const info = await userinfo(idp, tokens.access_token);
    assert.equal(info.status, 401);
    await client.tokenRevocation(rp.config, 'not-a-token');
  });

  it('RFC 7009 revocation of an access token leaves the refresh token alive', async () => {
    const tokens = await login(rp.config);
    await client.tokenRevocation(rp.config, tokens.access_token, { token_type_hint: 'access_token' });
    const info = await userinfo(idp, tokens.access_token);
    assert.equal(info.status, 401);
    assert.ok((await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '')).access_token);
  });
});
