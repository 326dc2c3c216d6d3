import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import {
  claimsOf,
  client,
  login,
  rejectsWithOAuthError,
  relyingParty,
  startTestIdp,
  tokenRequest,
  useRelyingParty,
  useTestIdp,
} from './helpers.js';

describe('refresh profiles', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  beforeEach(() => idp.setProfiles([]));

  it('short-expiry: access and ID tokens live 10 s', async () => {
    idp.setProfiles(['short-expiry']);
    const tokens = await login(rp.config);
    assert.equal(tokens.expires_in, 10);
    const id = tokens.claims();
    assert.equal((id?.exp ?? 0) - (id?.iat ?? 0), 10);
    const at = claimsOf(tokens.access_token);
    assert.equal((at.exp ?? 0) - (at.iat ?? 0), 10);
    const r = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    assert.equal(r.expires_in, 10);
  });

  it('refresh-reuses-token: the same refresh token comes back and stays valid', async () => {
    idp.setProfiles(['refresh-reuses-token']);
    const rt = (await login(rp.config)).refresh_token ?? '';
    const r1 = await client.refreshTokenGrant(rp.config, rt);
    assert.equal(r1.refresh_token, rt);
    const r2 = await client.refreshTokenGrant(rp.config, rt);
    assert.equal(r2.refresh_token, rt);
  });

  it('refresh-no-token-in-response: no refresh_token in the response, the old one keeps working', async () => {
    idp.setProfiles(['refresh-no-token-in-response']);
    const rt = (await login(rp.config)).refresh_token ?? '';
    const r1 = await client.refreshTokenGrant(rp.config, rt);
    assert.equal(r1.refresh_token, undefined);
    assert.ok(r1.id_token);
    assert.ok((await client.refreshTokenGrant(rp.config, rt)).access_token);
  });

  it('refresh-loses-group: refreshed ID token and userinfo drop admins', async () => {
    idp.setProfiles(['refresh-loses-group']);
    const tokens = await login(rp.config);
    assert.deepEqual(tokens.claims()?.groups, ['admins', 'dev']);
    const r = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    assert.deepEqual(r.claims()?.groups, ['dev']);
    const info = await client.fetchUserInfo(rp.config, r.access_token, 'usr_alice');
    assert.deepEqual(info.groups, ['dev']);
  });

  it('refresh-no-id-token: the refresh response carries no ID token', async () => {
    idp.setProfiles(['refresh-no-id-token']);
    const tokens = await login(rp.config);
    assert.ok(tokens.id_token);
    const r = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    assert.equal(r.id_token, undefined);
    assert.ok(r.access_token);
  });

  it('no-refresh-token: even offline_access gets no refresh token', async () => {
    idp.setProfiles(['no-refresh-token']);
    const tokens = await login(rp.config);
    assert.equal(tokens.refresh_token, undefined);
  });

  it('refresh-invalid-grant: every refresh fails, then works again when switched off', async () => {
    const rt = (await login(rp.config)).refresh_token ?? '';
    idp.setProfiles(['refresh-invalid-grant']);
    await rejectsWithOAuthError(client.refreshTokenGrant(rp.config, rt), 'invalid_grant');
    idp.setProfiles([]);
    assert.ok((await client.refreshTokenGrant(rp.config, rt)).access_token);
  });

  it('TTL options win over short-expiry; refresh tokens expire after refreshTokenTtl, by the clock', async (t) => {
    const clock = new ManualClock(); // the gateway's: the dev IdP takes any { now() }
    const custom = await startTestIdp({
      profiles: ['short-expiry'],
      accessTokenTtl: 42,
      idTokenTtl: 43,
      refreshTokenTtl: 1,
      clock,
    });
    t.after(() => custom.stop());
    const tokens = await login(await relyingParty(custom));
    assert.equal(tokens.expires_in, 42);
    const id = tokens.claims();
    assert.equal((id?.exp ?? 0) - (id?.iat ?? 0), 43);
    const refresh = (refreshToken: string | undefined) =>
      tokenRequest(custom, { grant_type: 'refresh_token', refresh_token: refreshToken ?? '' });
    clock.advance(999); // the last millisecond of its life: still good, and rotated
    const rotated = await refresh(tokens.refresh_token);
    assert.equal(rotated.status, 200);
    clock.advance(1000); // the new token's whole second has passed
    const r = await refresh(String(rotated.json.refresh_token));
    assert.equal(r.json.error, 'invalid_grant');
  });
});
