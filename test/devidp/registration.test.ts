import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import {
  authorizationRequest,
  claimsOf,
  client,
  login,
  type RawResponse,
  REDIRECT_URI,
  relyingParty,
  tokenRequest,
  useTestIdp,
} from './helpers.js';

/**
 * Dynamic Client Registration (RFC 7591) at the dev IdP: POST /register, listed in discovery,
 * makes a client that works at once for the code flow, refresh and logout.
 */
async function register(
  issuer: string,
  metadata: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const res = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof metadata === 'string' ? metadata : JSON.stringify(metadata),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
}

/**
 * A relying party as openid-client registers it (discovery, then POST to registration_endpoint),
 * authenticating afterwards the way it registered (openid-client itself would default to
 * client_secret_post, which a client registered for client_secret_basic may not use).
 */
async function dynamicRp(
  issuer: string,
  metadata: Partial<client.ClientMetadata>,
  initialAccessToken?: string,
): Promise<client.Configuration> {
  const registered = await client.dynamicClientRegistration(new URL(issuer), metadata, undefined, {
    execute: [client.allowInsecureRequests],
    ...(initialAccessToken ? { initialAccessToken } : {}),
  });
  const m = registered.clientMetadata();
  const auth =
    m.token_endpoint_auth_method === 'none'
      ? client.None()
      : m.token_endpoint_auth_method === 'client_secret_post'
        ? client.ClientSecretPost(String(m.client_secret))
        : client.ClientSecretBasic(String(m.client_secret));
  const config = new client.Configuration(registered.serverMetadata(), m.client_id, m, auth);
  client.allowInsecureRequests(config);
  return config;
}

/** Records the logout tokens POSTed to it (a back-channel logout receiver). */
class Receiver {
  readonly tokens: string[] = [];
  readonly #server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      this.tokens.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });

  async listen(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((r) => this.#server.close(() => r()));
  }
}

describe('dev IdP: Dynamic Client Registration (open)', () => {
  const idp = useTestIdp({ maxRegisteredClients: 7 });

  it('registers a confidential client that logs in, refreshes and is counted', async () => {
    idp.reset();
    const rp = await dynamicRp(idp.issuer, {
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      client_name: 'Test app',
    });
    const m = rp.clientMetadata();
    assert.match(m.client_id, /^dcr-/);
    assert.equal(typeof m.client_secret, 'string');
    assert.equal(m.client_secret_expires_at, 0);
    assert.equal(typeof m.client_id_issued_at, 'number');
    assert.equal(m.token_endpoint_auth_method, 'client_secret_basic', 'RFC 7591 default');
    assert.deepEqual(m.redirect_uris, [REDIRECT_URI]);
    assert.equal(m.client_name, 'Test app');
    const tokens = await login(rp);
    const id = tokens.claims();
    assert.equal(id?.aud, m.client_id, 'the ID token is for the registered client');
    assert.equal(id?.azp, m.client_id);
    assert.ok(tokens.refresh_token);
    const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token);
    assert.equal(refreshed.claims()?.aud, m.client_id);
    const stats = idp.stats();
    assert.equal(stats.registrations, 1);
    assert.equal(stats.requests.register, 1);
    assert.equal(stats.grants.authorization_code, 1);
    assert.equal(stats.grants.refresh_token, 1);
  });

  it('holds a registered client to its metadata: redirect URIs, grant types, auth method, secret', async () => {
    const reg = await register(idp.issuer, { redirect_uris: [REDIRECT_URI] });
    assert.equal(reg.status, 201);
    assert.equal(reg.headers.get('cache-control'), 'no-store');
    const id = String(reg.json.client_id);
    const secret = String(reg.json.client_secret);
    assert.deepEqual(reg.json.grant_types, ['authorization_code']);
    assert.deepEqual(reg.json.response_types, ['code']);
    // Only its own redirect URI, exactly (another loopback URI is fine for the default client).
    const rp = await relyingParty(idp);
    const other = await authorizationRequest(rp, {
      client_id: id,
      redirect_uri: 'http://127.0.0.1:51999/other',
    });
    const res = await fetch(other.url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /is not registered/);
    // Registered for client_secret_basic: the same secret posted in the form is refused.
    const post = await tokenRequest(
      idp,
      { grant_type: 'refresh_token', refresh_token: 'x', client_id: id, client_secret: secret },
      {},
    );
    assert.equal(post.status, 401);
    assert.match(String(post.json.error_description), /registered for client_secret_basic/);
    const basic = (s: string) => `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}`;
    const wrong = await tokenRequest(
      idp,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { authorization: basic('gatehouse-dev-secret') },
    );
    assert.equal(wrong.status, 401);
    // It registered no refresh_token grant (RFC 7591 default: authorization_code only).
    const grant = await tokenRequest(
      idp,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { authorization: basic(secret) },
    );
    assert.equal(grant.status, 400);
    assert.equal(grant.json.error, 'unauthorized_client');
  });

  it('registers a client_secret_post client: its secret in the form works, Basic does not', async () => {
    const rp = await dynamicRp(idp.issuer, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const m = rp.clientMetadata();
    assert.equal(m.token_endpoint_auth_method, 'client_secret_post');
    const tokens = await login(rp);
    assert.equal(tokens.claims()?.aud, m.client_id);
    const basic = await tokenRequest(
      idp,
      { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) },
      { authorization: `Basic ${Buffer.from(`${m.client_id}:${m.client_secret}`).toString('base64')}` },
    );
    assert.equal(basic.status, 401);
    assert.ok(
      await client.refreshTokenGrant(rp, String(tokens.refresh_token)),
      'the registered method still works',
    );
  });

  it('registers a public client (auth method none): no secret, the code flow with PKCE only', async () => {
    const rp = await dynamicRp(idp.issuer, {
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
    });
    const m = rp.clientMetadata();
    assert.equal(m.client_secret, undefined);
    assert.equal(m.client_secret_expires_at, undefined);
    const tokens = await login(rp, { scope: 'openid email' });
    assert.equal(tokens.claims()?.aud, m.client_id);
  });

  it('refuses bad metadata with RFC 7591 §3.2.2 errors, and counts every request', async () => {
    idp.reset();
    const cases: Array<[unknown, string, RegExp]> = [
      [{}, 'invalid_redirect_uri', /redirect_uris: required/],
      [{ redirect_uris: [] }, 'invalid_redirect_uri', /array of 1 to 20/],
      [{ redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri', /https, or http on a loopback/],
      [{ redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri', /fragment/],
      [{ redirect_uris: ['/cb'] }, 'invalid_redirect_uri', /not an absolute URI/],
      [
        { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt' },
        'invalid_client_metadata',
        /token_endpoint_auth_method/,
      ],
      [
        { redirect_uris: [REDIRECT_URI], response_types: ['token'] },
        'invalid_client_metadata',
        /response_types/,
      ],
      [{ redirect_uris: [REDIRECT_URI], grant_types: ['password'] }, 'invalid_client_metadata', /password/],
      [
        { redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: [] },
        'invalid_client_metadata',
        /go together/,
      ],
      [
        { redirect_uris: [REDIRECT_URI], backchannel_logout_uri: 'http://rp.example/bc' },
        'invalid_client_metadata',
        /backchannel_logout_uri/,
      ],
      [
        { redirect_uris: [REDIRECT_URI], post_logout_redirect_uris: ['javascript:alert(1)'] },
        'invalid_client_metadata',
        /post_logout_redirect_uris/,
      ],
      [['not', 'an', 'object'], 'invalid_client_metadata', /JSON object/],
      ['{not json', 'invalid_client_metadata', /not valid JSON/],
    ];
    for (const [body, error, description] of cases) {
      const r = await register(idp.issuer, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error, error, JSON.stringify(body));
      assert.match(String(r.json.error_description), description, JSON.stringify(body));
    }
    const form = await fetch(`${idp.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'redirect_uris=x',
    });
    assert.equal(form.status, 400);
    assert.equal(((await form.json()) as { error: string }).error, 'invalid_client_metadata');
    assert.equal(idp.stats().requests.register, cases.length + 1);
    assert.equal(idp.stats().registrations, 0);
    // Unknown members are ignored (RFC 7591 §2), not echoed.
    const ok = await register(idp.issuer, { redirect_uris: [REDIRECT_URI], logo_color: 'red' });
    assert.equal(ok.status, 201);
    assert.equal(ok.json.logo_color, undefined);
  });

  it('is bounded: past maxRegisteredClients every registration is refused', async () => {
    let status = 201;
    let last: RawResponse | undefined;
    for (let i = 0; i < 10 && status === 201; i++) {
      last = await register(idp.issuer, { redirect_uris: [REDIRECT_URI] });
      status = last.status;
    }
    assert.equal(status, 400);
    assert.equal(last?.json.error, 'invalid_client_metadata');
    assert.match(String(last?.json.error_description), /holds 7 dynamically registered clients, its limit/);
    // The clients already registered keep working.
    assert.equal((await relyingParty(idp)).clientMetadata().client_id, 'gatehouse');
  });
});

describe('dev IdP: Dynamic Client Registration with an initial access token', () => {
  const TOKEN = 'initial-access-token-0123456789';
  const idp = useTestIdp({ registrationToken: TOKEN });

  it('answers 401 with a Bearer challenge without the token or with a wrong one', async () => {
    const body = { redirect_uris: [REDIRECT_URI] };
    const none = await register(idp.issuer, body);
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'invalid_token');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
    const wrong = await register(idp.issuer, body, { authorization: 'Bearer not-the-token' });
    assert.equal(wrong.status, 401);
    assert.equal(idp.stats().registrations, 0);
    // openid-client reads the refusal from the Bearer challenge.
    await assert.rejects(dynamicRp(idp.issuer, body, 'not-the-token'), (err: unknown) => {
      assert.ok(err instanceof client.WWWAuthenticateChallengeError, String(err));
      assert.equal(err.cause[0]?.parameters.error, 'invalid_token');
      return true;
    });
    const rp = await dynamicRp(idp.issuer, body, TOKEN);
    assert.equal(idp.stats().registrations, 1);
    assert.equal((await login(rp)).claims()?.aud, rp.clientMetadata().client_id);
  });
});

describe('dev IdP: a registered client gets its own logout', () => {
  const receiver = new Receiver();
  let rpBase = '';
  before(async () => {
    rpBase = await receiver.listen();
  });
  after(() => receiver.close());
  // The default client has its own back-channel URI: the registered client's must be used instead.
  const idp = useTestIdp(() => ({ backchannelLogoutUri: `${rpBase}/default-client` }));

  it('back-channel logout goes to its backchannel_logout_uri, with its client id as aud', async () => {
    const rp = await dynamicRp(idp.issuer, {
      redirect_uris: [REDIRECT_URI],
      backchannel_logout_uri: `${rpBase}/registered`,
      backchannel_logout_session_required: true,
    });
    const id = rp.clientMetadata().client_id;
    const sid = String((await login(rp)).claims()?.sid);
    const result = await idp.backchannelLogout({ sid });
    assert.deepEqual(result, { delivered: true, status: 200 });
    const token = decodeJwt(receiver.tokens.at(-1) ?? '');
    assert.equal(token.aud, id);
    assert.equal(token.sid, sid);
    // A session of the default client still goes to the default client's URI.
    const def = await login(await relyingParty(idp));
    await idp.backchannelLogout({ sid: String(def.claims()?.sid) });
    assert.equal(decodeJwt(receiver.tokens.at(-1) ?? '').aud, 'gatehouse');
    assert.equal(receiver.tokens.length, 2);
  });

  it('end-session frames its frontchannel_logout_uri and allows only its post_logout_redirect_uris', async () => {
    const rp = await dynamicRp(idp.issuer, {
      redirect_uris: [REDIRECT_URI],
      frontchannel_logout_uri: 'https://rp.example/fc',
      post_logout_redirect_uris: ['https://rp.example/bye'],
    });
    const tokens = await login(rp);
    const idToken = tokens.id_token ?? '';
    const sid = String(claimsOf(idToken).sid);
    const refused = await fetch(
      `${idp.issuer}/end-session?id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent('http://127.0.0.1:1/x')}`,
    );
    assert.equal(refused.status, 400, 'a loopback URI it did not register');
    const res = await fetch(
      `${idp.issuer}/end-session?id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent('https://rp.example/bye')}`,
      { redirect: 'manual' },
    );
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(
      html.includes(`https://rp.example/fc?iss=${encodeURIComponent(idp.issuer)}&#38;sid=${sid}`),
      html,
    );
    assert.match(html, /url=https:\/\/rp\.example\/bye/);
  });
});
