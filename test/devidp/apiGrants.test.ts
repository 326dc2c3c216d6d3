// API clients and services at the dev IdP: the client_credentials grant, RFC 9068 access
// tokens with an audience for every grant, and the clients a test can register.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  basicAuth,
  claimsOf,
  decodeProtectedHeader,
  login,
  tokenRequest,
  useRelyingParty,
  userinfo,
  useTestIdp,
} from './helpers.js';

const BOT = {
  id: 'ci-bot',
  secret: 'ci-bot-secret',
  scopes: ['api:read', 'api:write'],
  audience: 'grafana-api',
};

async function verifyAccessToken(issuer: string, token: string, audience: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  return jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt', algorithms: ['RS256'] });
}

describe('client_credentials grant', () => {
  const idp = useTestIdp({ clients: [BOT] });

  it('the default client gets an RFC 9068 JWT with aud = the default audience', async () => {
    const res = await tokenRequest(idp, { grant_type: 'client_credentials' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.token_type, 'Bearer');
    assert.equal(res.json.expires_in, 300);
    assert.equal(
      res.json.refresh_token,
      undefined,
      'no refresh token for client credentials (RFC 6749 §4.4.3)',
    );
    assert.equal(res.json.id_token, undefined);
    const token = String(res.json.access_token);
    const { payload, protectedHeader } = await verifyAccessToken(idp.issuer, token, 'gatehouse-api');
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, 'gatehouse');
    assert.equal(payload.client_id, 'gatehouse');
    assert.equal(typeof payload.jti, 'string');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);
    assert.equal(payload.email, undefined, 'no user claims in a machine token');
    assert.equal(payload.nonce, undefined);
    assert.equal(idp.stats().grants.client_credentials, 1);
  });

  it('a registered client gets its scopes and default audience, with basic or post authentication', async () => {
    const basic = await tokenRequest(
      idp,
      { grant_type: 'client_credentials', scope: 'api:read' },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    assert.equal(basic.status, 200, JSON.stringify(basic.json));
    assert.equal(basic.json.scope, 'api:read');
    const { payload } = await verifyAccessToken(idp.issuer, String(basic.json.access_token), 'grafana-api');
    assert.equal(payload.sub, 'ci-bot');
    assert.equal(payload.scope, 'api:read');
    const post = await tokenRequest(
      idp,
      { grant_type: 'client_credentials', client_id: BOT.id, client_secret: BOT.secret },
      {},
    );
    assert.equal(post.status, 200);
    assert.equal(post.json.scope, 'api:read api:write', 'no scope asked: every allowed scope');
    assert.equal(claimsOf(String(post.json.access_token)).aud, 'grafana-api');
  });

  it('resource (RFC 8707) or audience names the aud; a malformed resource is invalid_target', async () => {
    const auth = { authorization: basicAuth(BOT.id, BOT.secret) };
    const byResource = await tokenRequest(
      idp,
      { grant_type: 'client_credentials', resource: 'https://api.example.com/' },
      auth,
    );
    assert.equal(claimsOf(String(byResource.json.access_token)).aud, 'https://api.example.com/');
    const byAudience = await tokenRequest(
      idp,
      { grant_type: 'client_credentials', audience: 'billing' },
      auth,
    );
    assert.equal(claimsOf(String(byAudience.json.access_token)).aud, 'billing');
    const bad = await tokenRequest(idp, { grant_type: 'client_credentials', resource: 'not a uri' }, auth);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'invalid_target');
  });

  it('a scope outside the client’s allowed scopes is invalid_scope, and no token is issued', async () => {
    const before = idp.stats().grants.client_credentials;
    const res = await tokenRequest(
      idp,
      { grant_type: 'client_credentials', scope: 'api:read admin' },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'invalid_scope');
    assert.match(String(res.json.error_description), /admin/);
    assert.equal(idp.stats().grants.client_credentials, before);
  });

  it('an unauthenticated or wrongly authenticated client gets 401 invalid_client', async () => {
    const none = await tokenRequest(idp, { grant_type: 'client_credentials' }, {});
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'invalid_client');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic/);
    const wrong = await tokenRequest(
      idp,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(BOT.id, 'nope') },
    );
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'invalid_client');
  });

  it('a client may use only its grant types (unauthorized_client), and only the default one logs users in', async () => {
    const res = await tokenRequest(
      idp,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'unauthorized_client');
    const authz = await fetch(
      `${idp.issuer}/authorize?response_type=code&client_id=ci-bot&redirect_uri=http://127.0.0.1:1/cb&scope=openid`,
      { redirect: 'manual' },
    );
    assert.equal(authz.status, 400);
  });

  it('a client-credentials token is not a user token: userinfo refuses it', async () => {
    const res = await tokenRequest(idp, { grant_type: 'client_credentials' });
    assert.equal((await userinfo(idp, String(res.json.access_token))).status, 401);
  });

  it('discovery lists client_credentials', async () => {
    const doc = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.ok((doc.grant_types_supported as string[]).includes('client_credentials'));
  });
});

describe('user access tokens (RFC 9068)', () => {
  const idp = useTestIdp({ audience: 'my-api', profiles: [] });
  const rp = useRelyingParty(idp);

  it('carry aud = --audience (not the client id), client_id, identity claims, and never a nonce', async () => {
    const tokens = await login(rp.config);
    assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
    const { payload } = await verifyAccessToken(idp.issuer, tokens.access_token, 'my-api');
    assert.equal(payload.sub, 'usr_alice');
    assert.equal(payload.client_id, 'gatehouse');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.preferred_username, 'alice');
    assert.deepEqual(payload.groups, ['admins', 'dev']);
    assert.deepEqual(payload.roles, ['admin']);
    assert.equal(typeof payload.jti, 'string');
    assert.equal(payload.nonce, undefined);
    assert.equal(payload.at_hash, undefined);
    assert.match(String(payload.scope), /openid/);
  });

  it('the resource named at authorize is the aud, and refresh keeps it unless it names another', async () => {
    const tokens = await login(rp.config, { resource: 'https://grafana.example/' });
    assert.equal(claimsOf(tokens.access_token).aud, 'https://grafana.example/');
    const refreshed = await tokenRequest(idp, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.equal(claimsOf(String(refreshed.json.access_token)).aud, 'https://grafana.example/');
    const other = await tokenRequest(idp, {
      grant_type: 'refresh_token',
      refresh_token: String(refreshed.json.refresh_token),
      audience: 'billing',
    });
    assert.equal(claimsOf(String(other.json.access_token)).aud, 'billing');
  });

  it('claim profiles shape access tokens too (groups-string)', async () => {
    idp.setProfiles(['groups-string']);
    try {
      const tokens = await login(rp.config);
      assert.equal(claimsOf(tokens.access_token).groups, 'admins,dev,"Ops, EMEA"');
    } finally {
      idp.setProfiles([]);
    }
  });
});

async function introspect(
  idp: { issuer: string },
  token: string,
  headers: Record<string, string> = { authorization: basicAuth() },
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${idp.issuer}/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token }).toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('introspection (RFC 7662)', () => {
  // The IdP's clock runs ahead by `skew` when a test moves time (the relying party checks ID
  // tokens against the real clock, so time is moved only around the assertion that needs it).
  let skew = 0;
  const idp = useTestIdp({ clients: [BOT], profiles: [], clock: { now: () => Date.now() + skew } });
  const rp = useRelyingParty(idp);

  it('is listed in discovery with its client authentication methods', async () => {
    const meta = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(meta.introspection_endpoint, `${idp.issuer}/introspect`);
    assert.deepEqual(meta.introspection_endpoint_auth_methods_supported, [
      'client_secret_basic',
      'client_secret_post',
    ]);
  });

  it('a user token is active with its claims; a machine token with its client; both counted', async () => {
    const before = idp.stats().requests.introspect;
    const tokens = await login(rp.config);
    const user = await introspect(idp, tokens.access_token);
    assert.equal(user.status, 200);
    assert.equal(user.json.active, true);
    assert.equal(user.json.sub, 'usr_alice');
    assert.equal(user.json.username, 'alice');
    assert.equal(user.json.email, 'alice@example.com');
    assert.deepEqual(user.json.groups, ['admins', 'dev']);
    assert.equal(user.json.aud, 'gatehouse-api');
    assert.equal(user.json.token_type, 'Bearer');
    assert.equal(typeof user.json.exp, 'number');
    const cc = await tokenRequest(
      idp,
      { grant_type: 'client_credentials', scope: 'api:read' },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    const machine = await introspect(idp, String(cc.json.access_token));
    assert.equal(machine.json.active, true);
    assert.equal(machine.json.client_id, 'ci-bot');
    assert.equal(machine.json.sub, 'ci-bot');
    assert.equal(machine.json.scope, 'api:read');
    assert.equal(machine.json.aud, 'grafana-api');
    assert.equal(machine.json.email, undefined);
    assert.equal(idp.stats().requests.introspect - before, 2);
  });

  it('unknown, revoked and expired tokens are inactive, and say nothing else', async () => {
    assert.deepEqual((await introspect(idp, 'not-a-token')).json, { active: false });
    const revoked = await login(rp.config);
    const r = await fetch(`${idp.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth() },
      body: new URLSearchParams({ token: revoked.access_token }).toString(),
    });
    assert.equal(r.status, 200);
    assert.deepEqual((await introspect(idp, revoked.access_token)).json, { active: false });
    const expiring = await login(rp.config);
    assert.equal((await introspect(idp, expiring.access_token)).json.active, true);
    skew = 301_000; // past the 300 s access-token lifetime
    try {
      assert.deepEqual((await introspect(idp, expiring.access_token)).json, { active: false });
    } finally {
      skew = 0;
    }
  });

  it('the caller must authenticate as a client (401 invalid_client)', async () => {
    const tokens = await login(rp.config);
    const none = await introspect(idp, tokens.access_token, {});
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'invalid_client');
    const wrong = await introspect(idp, tokens.access_token, { authorization: basicAuth(BOT.id, 'nope') });
    assert.equal(wrong.status, 401);
  });

  it('opaque-access-tokens: tokens are not JWTs and introspect as active', async () => {
    idp.setProfiles(['opaque-access-tokens']);
    try {
      const cc = await tokenRequest(idp, { grant_type: 'client_credentials' });
      const token = String(cc.json.access_token);
      assert.equal(token.split('.').length, 1, 'an opaque token');
      const r = await introspect(idp, token);
      assert.equal(r.json.active, true);
      assert.equal(r.json.aud, 'gatehouse-api');
    } finally {
      idp.setProfiles([]);
    }
  });

  it('introspection-5xx answers 503 with Retry-After', async () => {
    idp.setProfiles(['introspection-5xx']);
    try {
      const res = await fetch(`${idp.issuer}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth() },
        body: 'token=x',
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
    } finally {
      idp.setProfiles([]);
    }
  });
});
