// RFC 8693 token exchange at the dev IdP, driven through openid-client's genericGrantRequest (so
// a real client library proves the wire format) and by hand where a request must be malformed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ManualClock } from '../../src/util/clock.js';
import {
  admin,
  basicAuth,
  CLIENT_ID,
  CLIENT_SECRET,
  client,
  login,
  rejectsWithOAuthError,
  tokenRequest,
  useRelyingParty,
  useTestIdp,
} from './helpers.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const ID = 'urn:ietf:params:oauth:token-type:id_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

/** A backend service that receives alice's token and exchanges it to call another API. */
const SERVICE = {
  id: 'orders-svc',
  secret: 'orders-secret',
  audience: 'orders-api',
  grantTypes: [GRANT, 'client_credentials'],
};
/** A client registered without the grant. */
const PLAIN = { id: 'plain-bot', secret: 'plain-secret' };

async function serviceConfig(issuer: string): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), SERVICE.id, undefined, client.ClientSecretBasic(SERVICE.secret), {
    execute: [client.allowInsecureRequests],
  });
}

async function verifyAccessToken(issuer: string, token: string, audience: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  return jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt' });
}

async function introspect(issuer: string, token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${issuer}/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth() },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}

const asService = { authorization: basicAuth(SERVICE.id, SERVICE.secret) };

describe('token exchange (RFC 8693)', () => {
  const idp = useTestIdp({ clients: [SERVICE, PLAIN] });
  const rp = useRelyingParty(idp);

  it('is advertised in discovery', async () => {
    const doc = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    assert.ok(doc.grant_types_supported.includes(GRANT));
  });

  it('trades a user access token for one with the requested audience, through openid-client', async () => {
    const user = await login(rp.config);
    const before = idp.stats().grants.token_exchange;
    const svc = await serviceConfig(idp.issuer);
    const exchanged = await client.genericGrantRequest(svc, GRANT, {
      subject_token: user.access_token,
      subject_token_type: ACCESS,
      audience: 'billing-api',
      scope: 'openid email',
    });
    assert.equal(exchanged.issued_token_type, ACCESS);
    assert.equal(exchanged.token_type, 'bearer', 'openid-client lower-cases token_type');
    assert.equal(exchanged.expires_in, 300);
    assert.equal(exchanged.scope, 'openid email');
    assert.equal(exchanged.refresh_token, undefined);
    const { payload } = await verifyAccessToken(idp.issuer, exchanged.access_token, 'billing-api');
    assert.equal(payload.sub, user.claims()?.sub, "the subject token's sub");
    assert.equal(payload.client_id, SERVICE.id);
    assert.equal(payload.azp, SERVICE.id);
    assert.equal(payload.email, 'alice@example.com', "the user's identity claims");
    assert.equal(payload.act, undefined, 'no actor token, no act');
    assert.equal(idp.stats().grants.token_exchange, before + 1);
    // The store knows it: introspection answers it like any other access token.
    const info = await introspect(idp.issuer, exchanged.access_token);
    assert.equal(info.active, true);
    assert.equal(info.aud, 'billing-api');
    assert.equal(info.azp, SERVICE.id);
  });

  it("keeps the subject token's scope and takes the client's audience when none is asked for", async () => {
    const user = await login(rp.config);
    const res = await tokenRequest(
      idp,
      { grant_type: GRANT, subject_token: user.access_token, subject_token_type: ACCESS },
      asService,
    );
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.scope, 'openid email profile offline_access');
    await verifyAccessToken(idp.issuer, String(res.json.access_token), SERVICE.audience);
    const resource = await tokenRequest(
      idp,
      {
        grant_type: GRANT,
        subject_token: user.access_token,
        subject_token_type: ACCESS,
        resource: 'https://billing.example/api',
      },
      asService,
    );
    await verifyAccessToken(idp.issuer, String(resource.json.access_token), 'https://billing.example/api');
  });

  it('adds act for an actor token and nests the earlier actor on a second exchange', async () => {
    const user = await login(rp.config);
    const svc = await serviceConfig(idp.issuer);
    const actor = await client.clientCredentialsGrant(svc);
    const first = await client.genericGrantRequest(svc, GRANT, {
      subject_token: user.access_token,
      subject_token_type: ACCESS,
      actor_token: actor.access_token,
      actor_token_type: ACCESS,
      audience: 'billing-api',
    });
    const one = await verifyAccessToken(idp.issuer, first.access_token, 'billing-api');
    assert.deepEqual(one.payload.act, { sub: SERVICE.id });
    assert.equal(one.payload.sub, user.claims()?.sub);
    // The billing service (here: the default client) exchanges on, acting itself.
    const billingActor = await tokenRequest(idp, { grant_type: 'client_credentials' });
    const second = await tokenRequest(idp, {
      grant_type: GRANT,
      subject_token: first.access_token,
      subject_token_type: ACCESS,
      actor_token: String(billingActor.json.access_token),
      actor_token_type: JWT,
      audience: 'ledger-api',
    });
    assert.equal(second.status, 200, JSON.stringify(second.json));
    const two = await verifyAccessToken(idp.issuer, String(second.json.access_token), 'ledger-api');
    assert.deepEqual(two.payload.act, { sub: CLIENT_ID, act: { sub: SERVICE.id } });
  });

  it('accepts an ID token (as id_token or jwt) as the subject token', async () => {
    const user = await login(rp.config);
    for (const type of [ID, JWT]) {
      const res = await tokenRequest(
        idp,
        { grant_type: GRANT, subject_token: String(user.id_token), subject_token_type: type, audience: 'a' },
        asService,
      );
      assert.equal(res.status, 200, `${type}: ${JSON.stringify(res.json)}`);
      const { payload } = await verifyAccessToken(idp.issuer, String(res.json.access_token), 'a');
      assert.equal(payload.sub, user.claims()?.sub);
      assert.equal(payload.sid, user.claims()?.sid);
    }
  });

  it('labels the token a JWT when requested_token_type is jwt', async () => {
    const user = await login(rp.config);
    const res = await tokenRequest(
      idp,
      {
        grant_type: GRANT,
        subject_token: user.access_token,
        subject_token_type: ACCESS,
        requested_token_type: JWT,
      },
      asService,
    );
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.issued_token_type, JWT);
  });

  it('the exchanged token dies with the login it came from', async () => {
    const user = await login(rp.config);
    const res = await tokenRequest(
      idp,
      { grant_type: GRANT, subject_token: user.access_token, subject_token_type: ACCESS },
      asService,
    );
    const token = String(res.json.access_token);
    assert.equal((await introspect(idp.issuer, token)).active, true);
    await admin(idp, 'POST', 'revoke', { sub: user.claims()?.sub });
    assert.equal((await introspect(idp.issuer, token)).active, false);
  });

  describe('errors', () => {
    async function exchange(params: Record<string, string>, headers = asService) {
      return tokenRequest(idp, { grant_type: GRANT, ...params }, headers);
    }

    it('invalid_request for a missing subject_token, subject_token_type or actor_token_type', async () => {
      const user = await login(rp.config);
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ subject_token_type: ACCESS }, /subject_token is required/],
        [{ subject_token: user.access_token }, /subject_token_type is required/],
        [
          { subject_token: user.access_token, subject_token_type: ACCESS, actor_token: user.access_token },
          /actor_token_type is required/,
        ],
        [
          { subject_token: user.access_token, subject_token_type: ACCESS, actor_token_type: ACCESS },
          /without actor_token/,
        ],
      ];
      for (const [params, why] of cases) {
        const res = await exchange(params);
        assert.equal(res.status, 400);
        assert.equal(res.json.error, 'invalid_request');
        assert.match(String(res.json.error_description), why);
      }
    });

    it('invalid_request (RFC 8693 §2.2.2) for an unknown, revoked or forged subject token', async () => {
      const svc = await serviceConfig(idp.issuer);
      await rejectsWithOAuthError(
        client.genericGrantRequest(svc, GRANT, { subject_token: 'nope', subject_token_type: ACCESS }),
        'invalid_request',
      );
      const user = await login(rp.config);
      await client.tokenRevocation(rp.config, user.access_token);
      const revoked = await exchange({ subject_token: user.access_token, subject_token_type: ACCESS });
      assert.equal(revoked.json.error, 'invalid_request');
      assert.match(String(revoked.json.error_description), /not a live access token/);
      // An ID token with its signature broken.
      const fresh = await login(rp.config);
      const idToken = String(fresh.id_token);
      const forged = `${idToken.slice(0, -4)}AAAA`;
      const bad = await exchange({ subject_token: forged, subject_token_type: ID });
      assert.equal(bad.json.error, 'invalid_request');
      assert.match(String(bad.json.error_description), /failed verification/);
      // An access token is not an ID token.
      const wrong = await exchange({ subject_token: fresh.access_token, subject_token_type: ID });
      assert.equal(wrong.json.error, 'invalid_request');
      assert.match(String(wrong.json.error_description), /not an ID token/);
      const badActor = await exchange({
        subject_token: fresh.access_token,
        subject_token_type: ACCESS,
        actor_token: 'nope',
        actor_token_type: ACCESS,
      });
      assert.equal(badActor.json.error, 'invalid_request');
      assert.match(String(badActor.json.error_description), /^actor_token/);
    });

    it('unsupported_token_type for a refresh token subject or an ID token asked for', async () => {
      const user = await login(rp.config);
      const refresh = await exchange({
        subject_token: String(user.refresh_token),
        subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.json.error, 'unsupported_token_type');
      const idOut = await exchange({
        subject_token: user.access_token,
        subject_token_type: ACCESS,
        requested_token_type: ID,
      });
      assert.equal(idOut.json.error, 'unsupported_token_type');
      const actor = await exchange({
        subject_token: user.access_token,
        subject_token_type: ACCESS,
        actor_token: 'x',
        actor_token_type: 'urn:ietf:params:oauth:token-type:saml2',
      });
      assert.equal(actor.json.error, 'unsupported_token_type');
    });

    it('invalid_target for a resource that is not an absolute URI', async () => {
      const user = await login(rp.config);
      const svc = await serviceConfig(idp.issuer);
      await rejectsWithOAuthError(
        client.genericGrantRequest(svc, GRANT, {
          subject_token: user.access_token,
          subject_token_type: ACCESS,
          resource: 'billing',
        }),
        'invalid_target',
      );
    });

    it('invalid_scope for a scope the subject token does not hold', async () => {
      const user = await login(rp.config);
      const res = await exchange({
        subject_token: user.access_token,
        subject_token_type: ACCESS,
        scope: 'openid admin',
      });
      assert.equal(res.json.error, 'invalid_scope');
      assert.match(String(res.json.error_description), /admin/);
    });

    it('unauthorized_client for a client without the grant, invalid_client without authentication', async () => {
      const user = await login(rp.config);
      const params = { subject_token: user.access_token, subject_token_type: ACCESS };
      const plain = await exchange(params, { authorization: basicAuth(PLAIN.id, PLAIN.secret) });
      assert.equal(plain.status, 400);
      assert.equal(plain.json.error, 'unauthorized_client');
      const anonymous = await tokenRequest(idp, { grant_type: GRANT, ...params }, {});
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.json.error, 'invalid_client');
      const wrong = await exchange(params, { authorization: basicAuth(CLIENT_ID, `${CLIENT_SECRET}x`) });
      assert.equal(wrong.status, 401);
    });

    it('token endpoint faults apply to it', async () => {
      const user = await login(rp.config);
      await admin(idp, 'POST', 'faults', {
        rules: [{ endpoint: 'token', kind: 'status', status: 503, times: 1 }],
      });
      try {
        const res = await exchange({ subject_token: user.access_token, subject_token_type: ACCESS });
        assert.equal(res.status, 503);
      } finally {
        await admin(idp, 'DELETE', 'faults');
      }
    });
  });
});

describe('token exchange and time', () => {
  const clock = new ManualClock(Date.UTC(2031, 0, 1));
  const idp = useTestIdp({ clients: [SERVICE], clock });
  const rp = useRelyingParty(idp);

  it('refuses an expired access token or ID token as the subject (invalid_request)', async () => {
    const user = await login(rp.config);
    clock.advance(301_000);
    for (const [token, type] of [
      [user.access_token, ACCESS],
      [String(user.id_token), ID],
    ] as const) {
      const res = await tokenRequest(
        idp,
        { grant_type: GRANT, subject_token: token, subject_token_type: type },
        asService,
      );
      assert.equal(res.status, 400, type);
      assert.equal(res.json.error, 'invalid_request', type);
      assert.match(String(res.json.error_description), /expired/, type);
    }
  });
});
