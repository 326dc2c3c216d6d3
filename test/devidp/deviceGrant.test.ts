// RFC 8628 device authorization grant at the dev IdP: openid-client's initiateDeviceAuthorization
// and pollDeviceAuthorizationGrant against it (a real client library, real polling), the /device
// page a person uses, and the protocol's answers by hand with time driven by the clock option.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import {
  admin,
  basicAuth,
  CLIENT_ID,
  claimsOf,
  client,
  type RawResponse,
  tokenRequest,
  useTestIdp,
} from './helpers.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const TV = { id: 'living-room-tv', secret: 'tv-secret', grantTypes: [GRANT], scopes: ['openid', 'profile'] };
const PLAIN = { id: 'plain-bot', secret: 'plain-secret' };

async function deviceAuthorization(
  issuer: string,
  params: Record<string, string>,
  authorization = basicAuth(),
): Promise<RawResponse> {
  const res = await fetch(`${issuer}/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

async function devicePage(
  issuer: string,
  form: Record<string, string>,
  cookie?: string,
): Promise<{ status: number; html: string; setCookie: string | null }> {
  const res = await fetch(`${issuer}/device`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(cookie === undefined ? {} : { cookie }),
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, html: await res.text(), setCookie: res.headers.get('set-cookie') };
}

describe('device authorization grant through openid-client', () => {
  const idp = useTestIdp({ deviceInterval: 1 });

  it('is advertised in discovery', async () => {
    const doc = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(doc.device_authorization_endpoint, `${idp.issuer}/device_authorization`);
    assert.ok((doc.grant_types_supported as string[]).includes(GRANT));
  });

  it('polls through authorization_pending until the user approves, then gets tokens that refresh', async () => {
    idp.reset();
    const config = await client.discovery(
      new URL(idp.issuer),
      CLIENT_ID,
      undefined,
      client.ClientSecretPost('gatehouse-dev-secret'),
      { execute: [client.allowInsecureRequests] },
    );
    const started = await client.initiateDeviceAuthorization(config, {
      scope: 'openid email offline_access',
    });
    assert.match(started.user_code, USER_CODE);
    assert.equal(started.verification_uri, `${idp.issuer}/device`);
    assert.equal(
      started.verification_uri_complete,
      `${idp.issuer}/device?user_code=${encodeURIComponent(started.user_code)}`,
    );
    assert.equal(started.expires_in, 600);
    assert.equal(started.interval, 1);
    // The person approves as soon as the device has been told to wait: an event, not a sleep.
    let pending = 0;
    config[client.customFetch] = async (url, init) => {
      const res = await fetch(url, init as RequestInit);
      if (
        res.status === 400 &&
        ((await res.clone().json()) as { error?: string }).error === 'authorization_pending' &&
        ++pending === 1
      ) {
        const ok = await admin(idp, 'POST', 'device/approve', { user_code: started.user_code, user: 'bob' });
        assert.equal(ok.status, 200, JSON.stringify(ok.json));
      }
      return res;
    };
    const tokens = await client.pollDeviceAuthorizationGrant(config, started);
    assert.equal(pending, 1);
    assert.equal(tokens.claims()?.sub, 'usr_bob');
    assert.equal(tokens.claims()?.aud, CLIENT_ID);
    assert.equal(claimsOf(tokens.access_token).sub, 'usr_bob');
    assert.equal(claimsOf(tokens.access_token).aud, 'gatehouse-api');
    assert.ok(tokens.refresh_token, 'offline_access: a refresh token, as the code flow gives');
    const stats = idp.stats();
    assert.equal(stats.grants.device_code, 1);
    assert.equal(stats.requests.device_authorization, 1);
    assert.equal(stats.errors.authorization_pending, 1);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.equal(refreshed.claims()?.sub, 'usr_bob');
    assert.equal(idp.stats().grants.refresh_token, 1);
  });

  it('answers access_denied to the poll once the user denies', async () => {
    const config = await client.discovery(
      new URL(idp.issuer),
      CLIENT_ID,
      undefined,
      client.ClientSecretPost('gatehouse-dev-secret'),
      { execute: [client.allowInsecureRequests] },
    );
    const started = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    assert.equal((await admin(idp, 'POST', 'device/deny', { user_code: started.user_code })).status, 200);
    await assert.rejects(client.pollDeviceAuthorizationGrant(config, started), (err: unknown) => {
      assert.ok(err instanceof client.ResponseBodyError);
      assert.equal(err.error, 'access_denied');
      return true;
    });
  });
});

describe('device authorization grant, by hand with a manual clock', () => {
  const clock = new ManualClock(Date.UTC(2031, 0, 1));
  const idp = useTestIdp({ clock, clients: [TV, PLAIN] });

  async function start(scope = 'openid email offline_access') {
    const res = await deviceAuthorization(idp.issuer, { scope });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.interval, 5);
    return { deviceCode: String(res.json.device_code), userCode: String(res.json.user_code) };
  }
  const poll = (deviceCode: string, headers?: Record<string, string>) =>
    tokenRequest(idp, { grant_type: GRANT, device_code: deviceCode }, headers);

  it('slow_down when polled sooner than the interval, which then grows by 5 s', async () => {
    const { deviceCode } = await start();
    assert.equal((await poll(deviceCode)).json.error, 'authorization_pending');
    const fast = await poll(deviceCode);
    assert.equal(fast.status, 400);
    assert.equal(fast.json.error, 'slow_down');
    assert.match(String(fast.json.error_description), /10 s/);
    clock.advance(9_999);
    assert.equal((await poll(deviceCode)).json.error, 'slow_down', 'the interval is 10 s now');
    clock.advance(15_000);
    assert.equal((await poll(deviceCode)).json.error, 'authorization_pending');
    clock.advance(15_000);
    assert.equal((await poll(deviceCode)).json.error, 'authorization_pending');
  });

  it('expired_token once expires_in has passed, and the code can no longer be approved', async () => {
    const { deviceCode, userCode } = await start();
    clock.advance(600_000);
    const late = await poll(deviceCode);
    assert.equal(late.status, 400);
    assert.equal(late.json.error, 'expired_token');
    const approve = await admin(idp, 'POST', 'device/approve', { user_code: userCode, user: 'alice' });
    assert.equal(approve.status, 409);
    assert.match(String(approve.json.error_description), /expired/);
  });

  it('tokens once approved, single use; no refresh or ID token without offline_access and openid', async () => {
    const { deviceCode, userCode } = await start('email');
    assert.equal(
      (await admin(idp, 'POST', 'device/approve', { user_code: userCode, user: 'carol' })).status,
      200,
    );
    const ok = await poll(deviceCode);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.scope, 'email');
    assert.equal(ok.json.refresh_token, undefined);
    assert.equal(ok.json.id_token, undefined);
    assert.equal(claimsOf(String(ok.json.access_token)).sub, 'usr_carol');
    const again = await poll(deviceCode);
    assert.equal(again.json.error, 'invalid_grant');
    assert.match(String(again.json.error_description), /already used/);
  });

  it('invalid_grant for an unknown device code or another client, invalid_request without one', async () => {
    assert.equal((await poll('nope')).json.error, 'invalid_grant');
    const { deviceCode } = await start();
    const other = await poll(deviceCode, { authorization: basicAuth(TV.id, TV.secret) });
    assert.equal(other.json.error, 'invalid_grant');
    assert.match(String(other.json.error_description), /another client/);
    const missing = await tokenRequest(idp, { grant_type: GRANT });
    assert.equal(missing.json.error, 'invalid_request');
  });

  it('the device authorization endpoint refuses bad clients and scopes', async () => {
    const plain = await deviceAuthorization(idp.issuer, {}, basicAuth(PLAIN.id, PLAIN.secret));
    assert.equal(plain.status, 400);
    assert.equal(plain.json.error, 'unauthorized_client');
    const wrong = await deviceAuthorization(idp.issuer, {}, basicAuth(TV.id, 'wrong'));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'invalid_client');
    const scope = await deviceAuthorization(
      idp.issuer,
      { scope: 'openid admin' },
      basicAuth(TV.id, TV.secret),
    );
    assert.equal(scope.json.error, 'invalid_scope');
    const target = await deviceAuthorization(idp.issuer, { resource: 'not a uri' });
    assert.equal(target.json.error, 'invalid_target');
    const tv = await deviceAuthorization(idp.issuer, { scope: 'openid' }, basicAuth(TV.id, TV.secret));
    assert.equal(tv.status, 200);
  });

  it('token endpoint faults apply to the poll', async () => {
    const { deviceCode } = await start();
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'status', status: 503, times: 1 }],
    });
    try {
      assert.equal((await poll(deviceCode)).status, 503);
    } finally {
      await admin(idp, 'DELETE', 'faults');
    }
    assert.equal((await poll(deviceCode)).json.error, 'authorization_pending');
  });

  it('the admin hook says what is wrong', async () => {
    assert.equal(
      (await admin(idp, 'POST', 'device/approve', { user_code: 'BCDF-GHJK', user: 'alice' })).status,
      404,
    );
    assert.equal((await admin(idp, 'POST', 'device/approve', { user_code: 'x' })).status, 400);
    const { userCode } = await start();
    assert.equal(
      (await admin(idp, 'POST', 'device/approve', { user_code: userCode, user: 'nobody' })).status,
      400,
    );
    assert.equal((await admin(idp, 'POST', 'device/deny', { user_code: userCode })).status, 200);
    assert.equal(
      (await admin(idp, 'POST', 'device/approve', { user_code: userCode, user: 'alice' })).status,
      409,
    );
  });
});

describe('the /device page', () => {
  const idp = useTestIdp({ autoLogin: undefined });

  async function start(scope = 'openid offline_access') {
    const res = await deviceAuthorization(idp.issuer, { scope });
    return { deviceCode: String(res.json.device_code), userCode: String(res.json.user_code) };
  }
  const poll = (deviceCode: string) => tokenRequest(idp, { grant_type: GRANT, device_code: deviceCode });

  it('pre-fills the code from verification_uri_complete', async () => {
    const res = await fetch(`${idp.issuer}/device?user_code=BCDF-GHJK`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<label for="user_code">/);
    assert.match(html, /value="BCDF-GHJK"/);
  });

  it('a person types the code (any case, no dash), picks a user and approves; a second device reuses the SSO session', async () => {
    const first = await start();
    const typed = first.userCode.replace('-', '').toLowerCase();
    const consent = await devicePage(idp.issuer, { user_code: typed });
    assert.equal(consent.status, 200);
    assert.match(consent.html, /Approve a device/);
    assert.match(consent.html, /value="bob"/, 'the users to sign in as');
    const approved = await devicePage(idp.issuer, { user_code: typed, action: 'approve', user: 'bob' });
    assert.equal(approved.status, 200);
    assert.match(approved.html, /Device approved/);
    assert.ok(approved.setCookie?.startsWith('gatehouse_devidp_sid='), 'the person is now logged in here');
    const cookie = String(approved.setCookie).split(';')[0] ?? '';
    const tokens = await poll(first.deviceCode);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    const idToken = claimsOf(String(tokens.json.id_token));
    assert.equal(idToken.sub, 'usr_bob');
    assert.ok(tokens.json.refresh_token);

    const second = await start();
    const known = await devicePage(idp.issuer, { user_code: second.userCode }, cookie);
    assert.match(known.html, /Approve as Bob/, 'the SSO session names its user');
    const again = await devicePage(idp.issuer, { user_code: second.userCode, action: 'approve' }, cookie);
    assert.match(again.html, /Device approved/);
    assert.equal(again.setCookie, null, 'no new login: the SSO session was reused');
    const more = await poll(second.deviceCode);
    const secondId = claimsOf(String(more.json.id_token));
    assert.equal(secondId.sub, 'usr_bob');
    assert.equal(secondId.sid, idToken.sid);
    assert.equal(secondId.auth_time, idToken.auth_time);
  });

  it('deny answers access_denied to the device; unknown and used codes are said so', async () => {
    const { deviceCode, userCode } = await start();
    const denied = await devicePage(idp.issuer, { user_code: userCode, action: 'deny' });
    assert.match(denied.html, /Device denied/);
    const res = await poll(deviceCode);
    assert.equal(res.json.error, 'access_denied');
    const used = await devicePage(idp.issuer, { user_code: userCode });
    assert.equal(used.status, 404);
    assert.match(used.html, /already used/);
    const unknown = await devicePage(idp.issuer, { user_code: 'BCDF-GHJK' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.html, /No device is waiting/);
  });

  it('approve without a user re-shows the page with the reason', async () => {
    const { userCode } = await start();
    const res = await devicePage(idp.issuer, { user_code: userCode, action: 'approve', user: 'mallory' });
    assert.equal(res.status, 400);
    assert.match(res.html, /No user named &#34;mallory&#34;/);
  });
});

describe('device grant for a client registered at runtime', () => {
  const idp = useTestIdp();

  async function register(metadata: Record<string, unknown>) {
    const res = await fetch(`${idp.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(metadata),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  it('a public client (auth method none) runs the whole flow with its client_id alone', async () => {
    const reg = await register({
      grant_types: [GRANT, 'refresh_token'],
      response_types: [],
      token_endpoint_auth_method: 'none',
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    const clientId = String(reg.json.client_id);
    const form = (params: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, ...params }).toString(),
    });
    const started = (await (
      await fetch(`${idp.issuer}/device_authorization`, form({ scope: 'openid offline_access' }))
    ).json()) as Record<string, string>;
    assert.match(String(started.user_code), USER_CODE);
    await admin(idp, 'POST', 'device/approve', { user_code: started.user_code, user: 'alice' });
    const res = await fetch(
      `${idp.issuer}/token`,
      form({ grant_type: GRANT, device_code: String(started.device_code) }),
    );
    const tokens = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(tokens));
    assert.equal(claimsOf(String(tokens.id_token)).aud, clientId);
    assert.ok(tokens.refresh_token);
    const refreshed = await fetch(
      `${idp.issuer}/token`,
      form({ grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) }),
    );
    assert.equal(refreshed.status, 200, 'a device client refreshes without the code grant');
  });

  it('token exchange is refused to a public client at registration', async () => {
    const reg = await register({
      grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      response_types: [],
      token_endpoint_auth_method: 'none',
    });
    assert.equal(reg.status, 400);
    assert.match(String(reg.json.error_description), /token-exchange needs a confidential client/);
  });
});
