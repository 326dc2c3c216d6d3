// RFC 9126 pushed authorization requests at the dev IdP, driven by openid-client's
// buildAuthorizationUrlWithPAR: the request goes to /par, the browser carries only the request_uri.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import {
  basicAuth,
  CLIENT_ID,
  client,
  getJson,
  REDIRECT_URI,
  useRelyingParty,
  useTestIdp,
} from './helpers.js';

async function pushedLogin(config: client.Configuration, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'st',
    ...extra,
  });
  return { url, verifier };
}

async function push(issuer: string, params: Record<string, string>, authorization = basicAuth()) {
  const res = await fetch(`${issuer}/par`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('pushed authorization requests (RFC 9126)', () => {
  const clock = new ManualClock(Date.UTC(2031, 0, 1));
  const idp = useTestIdp({
    clock,
    clients: [{ id: 'other', secret: 'other-secret', grantTypes: ['authorization_code'] }],
  });
  const rp = useRelyingParty(idp);

  it('is advertised in discovery', async () => {
    const doc = (await getJson(`${idp.issuer}/.well-known/openid-configuration`)).json;
    assert.equal(doc.pushed_authorization_request_endpoint, `${idp.issuer}/par`);
    assert.equal(doc.require_pushed_authorization_requests, false);
  });

  it('openid-client pushes, the browser carries only client_id and request_uri, and the code flow completes', async () => {
    const before = idp.stats().requests.par;
    const { url, verifier } = await pushedLogin(rp.config);
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(String(url.searchParams.get('request_uri')), /^urn:ietf:params:oauth:request_uri:/);
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const callback = new URL(String(res.headers.get('location')));
    assert.equal(callback.searchParams.get('state'), 'st');
    const tokens = await client.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: 'st',
    });
    assert.equal(tokens.claims()?.sub, 'usr_alice');
    assert.equal(tokens.scope, 'openid email');
    assert.equal(idp.stats().requests.par, before + 1);
  });

  it('a request_uri is single use, expires after 60 s and belongs to the client that pushed it', async () => {
    const once = await pushedLogin(rp.config);
    assert.equal((await fetch(once.url, { redirect: 'manual' })).status, 302);
    const replay = await fetch(once.url, { redirect: 'manual' });
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /invalid_request_uri/);

    const late = await pushedLogin(rp.config);
    clock.advance(60_000);
    const expired = await fetch(late.url, { redirect: 'manual' });
    assert.equal(expired.status, 400);
    assert.match(await expired.text(), /expired/);

    const theirs = await pushedLogin(rp.config);
    const stolen = new URL(theirs.url);
    stolen.searchParams.set('client_id', 'other');
    const wrong = await fetch(stolen, { redirect: 'manual' });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /another client/);
  });

  it('refuses bad pushes: no client authentication, a foreign redirect_uri, a nested request_uri', async () => {
    const base = { response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid' };
    const anonymous = await push(idp.issuer, { ...base, client_id: CLIENT_ID }, '');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error, 'invalid_client');
    const foreign = await push(idp.issuer, { ...base, redirect_uri: 'https://evil.example/cb' });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.json.error, 'invalid_request');
    const nested = await push(idp.issuer, { ...base, request_uri: 'urn:ietf:params:oauth:request_uri:x' });
    assert.equal(nested.json.error, 'invalid_request');
    const ok = await push(idp.issuer, base);
    assert.equal(ok.status, 201);
    assert.equal(ok.json.expires_in, 60);
  });

  it('pushed parameters still get the authorization checks (errors go to the verified redirect_uri)', async () => {
    const { url } = await pushedLogin(rp.config, { scope: 'email' });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const callback = new URL(String(res.headers.get('location')));
    assert.equal(callback.searchParams.get('error'), 'invalid_scope');
  });
});
