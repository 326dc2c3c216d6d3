import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { beforeEach, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import {
  authorize,
  basicAuth,
  claimsOf,
  client,
  codeGrantRequest,
  decodeProtectedHeader,
  getJson,
  login,
  rejectsWithCheck,
  relyingParty,
  startTestIdp,
  tokenRequest,
  useRelyingParty,
  useTestIdp,
} from './helpers.js';

describe('failure profiles', () => {
  const idp = useTestIdp({ tokenDelayMs: 300 });
  const rp = useRelyingParty(idp);
  beforeEach(() => idp.setProfiles([]));

  /** The raw code-grant response, to look at what openid-client would refuse. */
  async function rawCodeGrant(): Promise<Record<string, unknown>> {
    const r = await codeGrantRequest(idp, await authorize(rp.config));
    assert.equal(r.status, 200);
    return r.json;
  }

  it('missing-id-token: no id_token in the code grant response', async () => {
    idp.setProfiles(['missing-id-token']);
    const body = await rawCodeGrant();
    assert.equal(body.id_token, undefined);
    assert.ok(body.access_token);
    await rejectsWithCheck(login(rp.config), 'OAUTH_INVALID_RESPONSE', /id_token/);
  });

  it('missing-id-token leaves refresh responses alone', async () => {
    idp.setProfiles(['missing-id-token']);
    const body = await rawCodeGrant();
    const r = await client.refreshTokenGrant(rp.config, String(body.refresh_token));
    assert.ok(r.id_token);
  });

  it('expired-id-token: exp is 10 minutes in the past', async () => {
    idp.setProfiles(['expired-id-token']);
    const id = claimsOf(String((await rawCodeGrant()).id_token));
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs((id.exp ?? 0) - (now - 600)) <= 2, `exp ${id.exp} vs now ${now}`);
    await rejectsWithCheck(login(rp.config), 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', /exp/);
  });

  it('bad-signature: the current kid, but a key that is not in the JWKS', async () => {
    idp.setProfiles(['bad-signature']);
    const idToken = String((await rawCodeGrant()).id_token);
    const jwks = (await getJson(`${idp.issuer}/jwks`)).json as unknown as Parameters<
      typeof createLocalJWKSet
    >[0];
    const kids = jwks.keys.map((k) => k.kid);
    assert.ok(kids.includes(decodeProtectedHeader(idToken).kid));
    await assert.rejects(jwtVerify(idToken, createLocalJWKSet(jwks)), {
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
    const strict = await relyingParty(idp);
    client.enableNonRepudiationChecks(strict);
    await rejectsWithCheck(login(strict), 'OAUTH_INVALID_RESPONSE', /signature/);
  });

  it('wrong-audience, wrong-issuer and nonce-mismatch fail openid-client claim checks', async () => {
    const cases: [string, RegExp][] = [
      ['wrong-audience', /"aud"/],
      ['wrong-issuer', /"iss"/],
      ['nonce-mismatch', /"nonce"/],
    ];
    for (const [profile, claim] of cases) {
      idp.setProfiles([profile]);
      await rejectsWithCheck(login(rp.config), 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', claim);
    }
  });

  it('token-endpoint-5xx: 503 temporarily_unavailable for every grant', async () => {
    const rt = (await login(rp.config)).refresh_token ?? '';
    idp.setProfiles(['token-endpoint-5xx']);
    idp.reset();
    const r = await tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: rt });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'temporarily_unavailable');
    await assert.rejects(login(rp.config), { code: 'OAUTH_RESPONSE_IS_NOT_CONFORM' });
    assert.equal(idp.stats().errors.temporarily_unavailable, 2);
    idp.setProfiles([]);
    assert.ok(
      (await client.refreshTokenGrant(rp.config, rt)).access_token,
      'the 503 must not have used the token',
    );
  });

  it('token-endpoint-slow: each response is delayed, then processed correctly', async () => {
    const rt = (await login(rp.config)).refresh_token ?? '';
    idp.setProfiles(['token-endpoint-slow']);
    const started = performance.now();
    const r = await client.refreshTokenGrant(rp.config, rt);
    assert.ok(performance.now() - started >= 290, 'expected the configured 300 ms delay');
    assert.ok(r.refresh_token);
  });

  it('token-endpoint-slow: a refresh whose client hung up while queued is dropped unprocessed', async () => {
    const rt = (await login(rp.config)).refresh_token ?? '';
    idp.setProfiles(['token-endpoint-slow']);
    idp.reset();
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt }).toString();
    // One write carries headers and body, so the IdP has the whole request before we hang up.
    const socket = connect(idp.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `POST /token HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${basicAuth()}\r\n` +
        `content-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    while (idp.stats().requests.token === 0) await new Promise((r) => setImmediate(r));
    socket.destroy();
    // A second request with the same token queues behind the first (same delay, started later):
    // had the first been processed, this one would meet a rotated token and get invalid_grant.
    const r = await client.refreshTokenGrant(rp.config, rt);
    assert.ok(r.refresh_token);
    assert.equal(idp.stats().grants.refresh_token, 1);
    assert.equal(idp.stats().errors.invalid_grant ?? 0, 0);
  });

  it('authorize-error: redirects back with error=access_denied and the state', async () => {
    idp.setProfiles(['authorize-error']);
    const a = await authorize(rp.config);
    assert.equal(a.callback.searchParams.get('error'), 'access_denied');
    assert.equal(a.callback.searchParams.get('state'), a.state);
    assert.equal(a.callback.searchParams.get('code'), null);
    await assert.rejects(
      client.authorizationCodeGrant(rp.config, a.callback, {
        pkceCodeVerifier: a.verifier,
        expectedState: a.state,
      }),
      (err: unknown) => err instanceof client.AuthorizationResponseError && err.error === 'access_denied',
    );
  });
});

describe('token-endpoint-slow and stop()', () => {
  it('stop() does not wait for delayed token responses', async () => {
    const idp = await startTestIdp({ profiles: ['token-endpoint-slow'], tokenDelayMs: 60_000 });
    const pending = tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: 'x' });
    // Wait until the request is inside the delay: the counter moves when it is routed.
    while (idp.stats().requests.token === 0) await new Promise((r) => setImmediate(r));
    const started = performance.now();
    await idp.stop();
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(pending);
  });
});
