import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { isLoopbackAddress } from '../../src/devidp/http.js';
import { PROFILE_NAMES, startDevIdp } from '../../src/devidp/index.js';
import {
  admin,
  client,
  getJson,
  login,
  rejectsWithOAuthError,
  startTestIdp,
  tokenRequest,
  useRelyingParty,
  useTestIdp,
  verifyWithJwks,
} from './helpers.js';

/** A tiny RP back-channel endpoint that verifies each logout token against the IdP's JWKS. */
class LogoutReceiver {
  readonly tokens: {
    header: ReturnType<typeof decodeProtectedHeader>;
    payload: JWTPayload;
    contentType: string;
  }[] = [];
  status = 200;
  server: Server;
  issuer = '';

  constructor() {
    this.server = createServer((req, res) => {
      void this.#handle(req).then(
        () => res.writeHead(this.status).end(),
        (err: Error) => res.writeHead(400).end(err.message),
      );
    });
  }

  async #handle(req: IncomingMessage): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const token = new URLSearchParams(body).get('logout_token') ?? '';
    const jwks = createRemoteJWKSet(new URL(`${this.issuer}/jwks`));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: this.issuer,
      audience: 'gatehouse',
      typ: 'logout+jwt',
    });
    this.tokens.push({
      header: decodeProtectedHeader(token),
      payload,
      contentType: req.headers['content-type'] ?? '',
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/backchannel`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('admin API', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  it('GET /__admin/stats has the exact documented shape', async () => {
    await admin(idp, 'POST', 'reset');
    await login(rp.config);
    await tokenRequest(idp, { grant_type: 'refresh_token', refresh_token: 'nope' });
    await tokenRequest(idp, { grant_type: 'password' });
    const { status, json } = await admin(idp, 'GET', 'stats');
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(json).sort(), ['errors', 'faults', 'grants', 'registrations', 'requests']);
    assert.deepEqual(json.grants, {
      authorization_code: 1,
      refresh_token: 0,
      client_credentials: 0,
      token_exchange: 0,
      device_code: 0,
    });
    assert.deepEqual(json.errors, { invalid_grant: 1, unsupported_grant_type: 1 });
    assert.deepEqual(json.requests, {
      authorize: 1,
      token: 3,
      userinfo: 0,
      jwks: 0,
      discovery: 0,
      introspect: 0,
      register: 0,
      graph: 0,
      device_authorization: 0,
      par: 0,
    });
    assert.equal(json.registrations, 0);
    assert.deepEqual(json, idp.stats());
  });

  it('POST /__admin/reset zeroes the counters', async () => {
    await login(rp.config);
    assert.deepEqual((await admin(idp, 'POST', 'reset')).status, 200);
    assert.deepEqual((await admin(idp, 'GET', 'stats')).json, {
      grants: {
        authorization_code: 0,
        refresh_token: 0,
        client_credentials: 0,
        token_exchange: 0,
        device_code: 0,
      },
      errors: {},
      requests: {
        authorize: 0,
        token: 0,
        userinfo: 0,
        jwks: 0,
        discovery: 0,
        introspect: 0,
        register: 0,
        graph: 0,
        device_authorization: 0,
        par: 0,
      },
      registrations: 0,
      faults: {
        token: { fired: 0 },
        userinfo: { fired: 0 },
        jwks: { fired: 0 },
        discovery: { fired: 0 },
        introspect: { fired: 0 },
        authorize: { fired: 0 },
      },
    });
  });

  it('PUT /__admin/profiles replaces the active profiles; unknown names are refused', async () => {
    const put = await admin(idp, 'PUT', 'profiles', { profiles: ['short-expiry', 'groups-string'] });
    assert.deepEqual(put.json, { profiles: ['short-expiry', 'groups-string'] });
    assert.deepEqual(idp.profiles(), ['short-expiry', 'groups-string']);
    assert.equal((await login(rp.config)).expires_in, 10);
    const bad = await admin(idp, 'PUT', 'profiles', { profiles: ['short-expiry', 'nope'] });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error_description), /"nope".*huge-groups/);
    assert.deepEqual((await admin(idp, 'GET', 'profiles')).json, {
      profiles: ['short-expiry', 'groups-string'],
    });
    assert.equal((await admin(idp, 'PUT', 'profiles', { profiles: 'x' })).status, 400);
    await admin(idp, 'PUT', 'profiles', { profiles: [] });
    assert.deepEqual(idp.profiles(), []);
  });

  it('POST /__admin/rotate-keys adds a new key and keeps the previous one in the JWKS', async () => {
    const before = await login(rp.config);
    const oldKid = decodeProtectedHeader(before.id_token ?? '').kid;
    const rotated = await admin(idp, 'POST', 'rotate-keys');
    assert.equal(rotated.status, 200);
    const kids = (await getJson(`${idp.issuer}/jwks`)).json.keys as { kid: string; alg: string }[];
    assert.equal(kids.length, 4);
    assert.ok(kids.some((k) => k.kid === oldKid));
    const afterRotation = await login(rp.config);
    const newKid = decodeProtectedHeader(afterRotation.id_token ?? '').kid;
    assert.notEqual(newKid, oldKid);
    assert.equal(kids[0]?.kid, newKid, 'current key first');
    await verifyWithJwks(idp, before.id_token ?? '');
    await verifyWithJwks(idp, afterRotation.id_token ?? '');
  });

  it('rotateKeys() twice drops the oldest generation', async () => {
    const oldest = (await login(rp.config)).id_token ?? '';
    idp.rotateKeys();
    idp.rotateKeys();
    await assert.rejects(verifyWithJwks(idp, oldest));
  });

  it('POST /__admin/revoke revokes the user’s refresh tokens', async () => {
    const alice = await login(rp.config);
    const bob = await login(rp.config, { login_hint: 'bob' });
    const res = await admin(idp, 'POST', 'revoke', { sub: 'usr_alice' });
    assert.equal(res.status, 200);
    assert.ok(Number(res.json.revoked) >= 1);
    await rejectsWithOAuthError(
      client.refreshTokenGrant(rp.config, alice.refresh_token ?? ''),
      'invalid_grant',
    );
    assert.ok((await client.refreshTokenGrant(rp.config, bob.refresh_token ?? '')).access_token);
    assert.equal(idp.revoke('usr_alice'), 0);
    assert.equal((await admin(idp, 'POST', 'revoke', {})).status, 400);
  });

  it('unknown admin paths are 404 JSON, wrong methods 405 with Allow', async () => {
    const missing = await admin(idp, 'GET', 'nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'not_found');
    assert.equal((await admin(idp, 'GET', 'constructor')).status, 404);
    const wrong = await admin(idp, 'DELETE', 'stats');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
    assert.equal((await admin(idp, 'POST', 'revoke', '{not json')).status, 400);
  });

  it('without a back-channel URI nothing is delivered', async () => {
    assert.deepEqual(await idp.backchannelLogout({ sub: 'usr_alice' }), { delivered: false });
  });

  it('refuses cross-origin browser requests', async () => {
    const res = await fetch(`${idp.issuer}/__admin/reset`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(res.status, 403);
    await res.text();
  });

  it('answers loopback clients only', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', undefined])
      assert.ok(!isLoopbackAddress(a), String(a));
  });
});

describe('back-channel logout', () => {
  const receiver = new LogoutReceiver();
  const idp = useTestIdp(async () => ({ backchannelLogoutUri: await receiver.listen() }));
  const rp = useRelyingParty(idp);
  before(() => {
    // The receiver learns the issuer after the IdP starts; it only needs it once tokens arrive.
    receiver.issuer = idp.issuer;
  });
  after(() => receiver.close());

  it('POSTs a signed logout token for {sub, sid} and reports delivery', async () => {
    const sid = String((await login(rp.config)).claims()?.sid);
    const res = await admin(idp, 'POST', 'backchannel-logout', { sub: 'usr_alice', sid });
    assert.deepEqual(res.json, { delivered: true, status: 200 });
    const got = receiver.tokens.at(-1);
    assert.ok(got);
    assert.equal(got.contentType, 'application/x-www-form-urlencoded');
    assert.equal(got.header.typ, 'logout+jwt');
    assert.equal(got.payload.sub, 'usr_alice');
    assert.equal(got.payload.sid, sid);
    assert.equal(got.payload.nonce, undefined);
    assert.equal(typeof got.payload.jti, 'string');
    assert.deepEqual(got.payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
  });

  it('with only a sub, the token also names that user’s latest sid', async () => {
    const sid = String((await login(rp.config, { login_hint: 'bob' })).claims()?.sid);
    const result = await idp.backchannelLogout({ sub: 'usr_bob' });
    assert.deepEqual(result, { delivered: true, status: 200 });
    assert.equal(receiver.tokens.at(-1)?.payload.sid, sid);
  });

  it('with only a sid, the token names its sub', async () => {
    const sid = String((await login(rp.config, { login_hint: 'carol' })).claims()?.sid);
    await idp.backchannelLogout({ sid });
    assert.equal(receiver.tokens.at(-1)?.payload.sub, 'usr_carol');
  });

  it('reports a failing receiver as not delivered, with its status', async () => {
    receiver.status = 500;
    try {
      assert.deepEqual(await idp.backchannelLogout({ sub: 'usr_alice' }), { delivered: false, status: 500 });
    } finally {
      receiver.status = 200;
    }
  });

  it('needs a sub or a sid', async () => {
    assert.equal((await admin(idp, 'POST', 'backchannel-logout', {})).status, 400);
    await assert.rejects(idp.backchannelLogout({}), /sub or a sid/);
  });
});

describe('library API', () => {
  it('lists the profiles and refuses unknown ones, naming them', async () => {
    assert.ok(PROFILE_NAMES.includes('short-expiry'));
    assert.ok(PROFILE_NAMES.includes('cognito'));
    await assert.rejects(
      startDevIdp({ port: 0, quiet: true, profiles: ['nope'] }),
      /"nope".*valid profiles: .*short-expiry/,
    );
    const idp = await startTestIdp();
    try {
      assert.throws(() => idp.setProfiles(['google', 'typo']), /"typo"/);
      assert.deepEqual(idp.profiles(), []);
    } finally {
      await idp.stop();
    }
  });

  it('stop() is idempotent and closes keep-alive connections', async () => {
    const idp = await startTestIdp();
    await getJson(`${idp.issuer}/jwks`); // leaves a keep-alive socket open
    await Promise.all([idp.stop(), idp.stop()]);
    await assert.rejects(fetch(`${idp.issuer}/jwks`));
  });
});
