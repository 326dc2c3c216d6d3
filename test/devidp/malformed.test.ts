import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import {
  basicAuth,
  CLIENT_ID,
  client,
  getJson,
  login,
  REDIRECT_URI,
  relyingParty,
  useTestIdp,
} from './helpers.js';

const FORM = 'application/x-www-form-urlencoded';

interface Case {
  name: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
  error: string;
}

/** Requests a real client would never send; each must be a 4xx with an OAuth error body. */
const TOKEN_CASES: Case[] = [
  { name: 'GET /token', path: '/token', method: 'GET', status: 405, error: 'invalid_request' },
  {
    name: 'no content-type',
    path: '/token',
    headers: { authorization: basicAuth() },
    body: 'grant_type=refresh_token',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'JSON body',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    body: '{"grant_type":"refresh_token"}',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'garbage form body',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: '%%%&&&===\u0000\uffff',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'binary body',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: '\u00ff\u00fe\u0000\u0001grant_type',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'no client auth',
    path: '/token',
    headers: { 'content-type': FORM },
    body: 'grant_type=refresh_token&refresh_token=x',
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'garbage Basic',
    path: '/token',
    headers: { authorization: 'Basic !!!***', 'content-type': FORM },
    body: 'grant_type=refresh_token',
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'Basic without colon',
    path: '/token',
    headers: { authorization: `Basic ${Buffer.from('gatehouse').toString('base64')}`, 'content-type': FORM },
    body: 'grant_type=refresh_token',
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'Basic with bad escapes',
    path: '/token',
    headers: { authorization: `Basic ${Buffer.from('%zz:%zz').toString('base64')}`, 'content-type': FORM },
    body: 'grant_type=refresh_token',
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'unknown client',
    path: '/token',
    headers: { authorization: basicAuth('other', 'x'), 'content-type': FORM },
    body: 'grant_type=refresh_token',
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'wrong secret (post)',
    path: '/token',
    headers: { 'content-type': FORM },
    body: `grant_type=refresh_token&client_id=${CLIENT_ID}&client_secret=wrong`,
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'two auth methods',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'grant_type=refresh_token&client_secret=gatehouse-dev-secret',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'duplicate parameter',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'grant_type=refresh_token&grant_type=authorization_code',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'no grant_type',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'code=x',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'unknown grant_type',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'grant_type=password&username=a&password=b',
    status: 400,
    error: 'unsupported_grant_type',
  },
  {
    name: 'code grant without code',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'grant_type=authorization_code',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'unknown code',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: `grant_type=authorization_code&code=nope&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${'a'.repeat(43)}`,
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'short code_verifier',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: `grant_type=authorization_code&code=x&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=short`,
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'refresh without token',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'grant_type=refresh_token',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'unknown refresh token',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: 'grant_type=refresh_token&refresh_token=%00%ff',
    status: 400,
    error: 'invalid_grant',
  },
  {
    name: 'body over 64 KB',
    path: '/token',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: `grant_type=refresh_token&x=${'a'.repeat(70_000)}`,
    status: 413,
    error: 'invalid_request',
  },
];

const OTHER_CASES: Case[] = [
  { name: 'userinfo without token', path: '/userinfo', method: 'GET', status: 401, error: 'invalid_token' },
  {
    name: 'userinfo with garbage token',
    path: '/userinfo',
    method: 'GET',
    headers: { authorization: 'Bearer ???' },
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'userinfo with Basic',
    path: '/userinfo',
    method: 'GET',
    headers: { authorization: basicAuth() },
    status: 401,
    error: 'invalid_token',
  },
  { name: 'DELETE /userinfo', path: '/userinfo', method: 'DELETE', status: 405, error: 'invalid_request' },
  {
    name: 'revoke without auth',
    path: '/revoke',
    headers: { 'content-type': FORM },
    body: 'token=x',
    status: 401,
    error: 'invalid_client',
  },
  {
    name: 'revoke without token',
    path: '/revoke',
    headers: { authorization: basicAuth(), 'content-type': FORM },
    body: '',
    status: 400,
    error: 'invalid_request',
  },
  {
    name: 'groups without token',
    path: '/groups/usr_alice',
    method: 'GET',
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'PUT discovery',
    path: '/.well-known/openid-configuration',
    method: 'PUT',
    status: 405,
    error: 'invalid_request',
  },
  { name: 'unknown path', path: '/nope', method: 'GET', status: 404, error: 'not_found' },
];

describe('malformed requests', () => {
  const idp = useTestIdp();

  for (const c of [...TOKEN_CASES, ...OTHER_CASES]) {
    it(`${c.name} → ${c.status} ${c.error}`, async () => {
      const init: RequestInit = { method: c.method ?? 'POST', headers: c.headers ?? {} };
      if (c.body !== undefined) init.body = c.body;
      const res = await getJson(`${idp.issuer}${c.path}`, init);
      assert.equal(res.status, c.status);
      assert.equal(res.json.error, c.error, JSON.stringify(res.json));
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      if (c.status === 401 && c.path !== '/groups/usr_alice') assert.ok(res.headers.get('www-authenticate'));
      if (c.status === 405) assert.ok(res.headers.get('allow'));
    });
  }

  it('authorize problems with client or redirect_uri are 400 pages without a redirect', async () => {
    const base = `${idp.issuer}/authorize?response_type=code&scope=openid`;
    const bad = [
      base,
      `${base}&client_id=other&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
      `${base}&client_id=gatehouse`,
      `${base}&client_id=gatehouse&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`,
      `${base}&client_id=gatehouse&redirect_uri=${encodeURIComponent(`${REDIRECT_URI}#frag`)}`,
      `${base}&client_id=gatehouse&redirect_uri=not-a-url`,
      `${base}&client_id=gatehouse&client_id=gatehouse&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
    ];
    for (const url of bad) {
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400, url);
      assert.equal(res.headers.get('location'), null, url);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      await res.text();
    }
  });

  it('other authorize problems redirect back with the right error and the state', async () => {
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    const ok = `client_id=gatehouse&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&state=s1`;
    const cases: [string, string][] = [
      [`${ok}&scope=openid&code_challenge=${challenge}&code_challenge_method=S256`, 'invalid_request'],
      [
        `${ok}&response_type=token&scope=openid&code_challenge=${challenge}&code_challenge_method=S256`,
        'unsupported_response_type',
      ],
      [`${ok}&response_type=code&scope=openid`, 'invalid_request'],
      [
        `${ok}&response_type=code&scope=openid&code_challenge=${challenge}&code_challenge_method=plain`,
        'invalid_request',
      ],
      [
        `${ok}&response_type=code&scope=openid&code_challenge=tooshort&code_challenge_method=S256`,
        'invalid_request',
      ],
      [
        `${ok}&response_type=code&scope=email&code_challenge=${challenge}&code_challenge_method=S256`,
        'invalid_scope',
      ],
      [
        `${ok}&response_type=code&scope=openid&code_challenge=${challenge}&code_challenge_method=S256&state=s2`,
        'invalid_request',
      ],
      [
        `${ok}&response_type=code&scope=openid&code_challenge=${challenge}&code_challenge_method=S256&request=x`,
        'request_not_supported',
      ],
      [
        `${ok}&response_type=code&scope=openid&code_challenge=${challenge}&code_challenge_method=S256&response_mode=fragment`,
        'invalid_request',
      ],
    ];
    for (const [query, error] of cases) {
      const res = await fetch(`${idp.issuer}/authorize?${query}`, { redirect: 'manual' });
      assert.equal(res.status, 302, query);
      const location = new URL(res.headers.get('location') ?? '');
      assert.equal(location.origin + location.pathname, REDIRECT_URI);
      assert.equal(location.searchParams.get('error'), error, query);
      assert.equal(location.searchParams.get('state'), 's1');
    }
  });

  it('answers malformed HTTP with 400 and keeps serving', async () => {
    const socket = connect(idp.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GARBAGE / HTTP/9.9\r\n\r\n');
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    assert.match(chunk.toString(), /^HTTP\/1\.1 400/);
    socket.destroy();
  });

  it('stays up, answered no 500, and counted the errors', async () => {
    const config = await relyingParty(idp);
    assert.ok((await login(config)).access_token);
    const stats = idp.stats();
    assert.equal(stats.errors.server_error, undefined);
    assert.ok((stats.errors.invalid_client ?? 0) >= 6);
    assert.ok(
      await client.discovery(new URL(idp.issuer), CLIENT_ID, 'x', undefined, {
        execute: [client.allowInsecureRequests],
      }),
    );
  });
});
