import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ManualClock } from '../../src/util/clock.js';
import { client, relyingParty, login as rpLogin, type Tokens } from '../devidp/helpers.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { closedBy, connect, startWsUpstream } from '../helpers/websocket.js';

/**
 * Bearer tokens through the reverse proxy, with the real dev IdP: its code-flow access tokens are
 * RFC 9068 JWTs (`typ: at+jwt`) whose `aud` is the default audience (`gatehouse-api`, the dev IdP's `--audience`).
 */

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function parts(jwt: string): [Record<string, unknown>, Record<string, unknown>, string] {
  const [h, p, s] = jwt.split('.');
  return [
    JSON.parse(Buffer.from(h!, 'base64url').toString()),
    JSON.parse(Buffer.from(p!, 'base64url').toString()),
    s!,
  ];
}

/** `WWW-Authenticate: Bearer … error="X"` → X */
function bearerError(r: { headers: Record<string, string | string[] | undefined> }): string | undefined {
  const h = String(r.headers['www-authenticate'] ?? '');
  assert.match(h, /^Bearer realm="gatehouse"/, `WWW-Authenticate is ${h}`);
  return /error="([^"]+)"/.exec(h)?.[1];
}

async function api(
  url: string,
  token: string | undefined,
  opts: { kind?: 'api' | 'navigate'; headers?: Record<string, string>; browser?: TestBrowser } = {},
) {
  const b = opts.browser ?? new TestBrowser();
  const headers: Record<string, string> = { ...opts.headers };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return b.request(url, { kind: opts.kind ?? 'api', headers });
}

/** The answer a refused bearer request must be: 401 JSON, invalid_token, no cookie, no redirect, no token echoed. */
function assertInvalidToken(r: Awaited<ReturnType<typeof api>>, token: string, why?: RegExp): void {
  assert.equal(r.status, 401, r.body);
  assert.equal(r.location, undefined);
  assert.equal(r.headers['set-cookie'], undefined);
  assert.match(String(r.headers['content-type']), /application\/json/);
  assert.equal(r.json().error, 'invalid_token');
  assert.equal(bearerError(r), 'invalid_token');
  const challenge = String(r.headers['www-authenticate']);
  assert.ok(!challenge.includes(token.split('.')[1] ?? token), 'the challenge must never carry the token');
  assert.ok(!r.body.includes(token), 'the body must never carry the token');
  if (why) assert.match(challenge, why);
}

describe('bearer JWT access tokens through the reverse proxy', () => {
  let s: Stack;
  let tokens: Tokens;
  const clock = new ManualClock();
  before(async () => {
    s = await startStack({
      clock,
      config: {
        bearer: { accept: ['jwt'], audiences: ['gatehouse-api'] },
        authorization: {
          rules: [
            { pathPrefix: '/scoped', requiredScopes: ['email'] },
            { pathPrefix: '/billing', requiredScopes: ['billing:read'] },
            { pathPrefix: '/admin', allowedGroups: ['admins'] },
          ],
        },
      } as never,
    });
    const rp = await relyingParty(s.idp);
    tokens = await rpLogin(rp, { login_hint: 'bob' });
  });
  after(() => s.close());

  it('a valid JWT access token → 200 with the identity headers, no Set-Cookie', async () => {
    const r = await api(`${s.url}/hello`, tokens.access_token);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['set-cookie'], undefined);
    const seen = r.json<{ headers: Record<string, string> }>().headers;
    assert.ok(seen['x-forwarded-user'], 'X-Forwarded-User upstream');
    assert.equal(seen['x-forwarded-client-id'], 'gatehouse');
  });

  it('a repeated token is served from the verified-token cache (no second verification)', async () => {
    const before = await s.gw.metrics.registry.getSingleMetricAsString(
      'gatehouse_bearer_verifications_total',
    );
    for (let i = 0; i < 5; i++) assert.equal((await api(`${s.url}/x`, tokens.access_token)).status, 200);
    const after = await s.gw.metrics.registry.getSingleMetricAsString('gatehouse_bearer_verifications_total');
    const n = (txt: string, result: string) =>
      Number(new RegExp(`method="jwt",result="${result}"} (\\d+)`).exec(txt)?.[1] ?? 0);
    assert.equal(n(after, 'ok'), n(before, 'ok'));
    assert.equal(n(after, 'cached') - n(before, 'cached'), 5);
  });

  it('a tampered signature → 401 invalid_token', async () => {
    const [h, p, sig] = tokens.access_token.split('.');
    const flipped = `${sig!.slice(0, -4)}${sig!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const t = `${h}.${p}.${flipped}`;
    assertInvalidToken(await api(`${s.url}/x`, t), t, /signature/);
    // A tampered payload under the real signature too.
    const [, payload] = parts(tokens.access_token);
    const t2 = `${h}.${b64({ ...payload, sub: 'usr_admin' })}.${sig}`;
    assertInvalidToken(await api(`${s.url}/x`, t2), t2, /signature/);
  });

  it('alg none → 401 invalid_token', async () => {
    const [header, payload] = parts(tokens.access_token);
    const t = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`;
    // An empty signature is not JWT-shaped: refused as such; with a dummy one, for its algorithm.
    assertInvalidToken(await api(`${s.url}/x`, t), t);
    const t2 = `${b64({ ...header, alg: 'none' })}.${b64(payload)}.AAAA`;
    assertInvalidToken(await api(`${s.url}/x`, t2), t2, /algorithm/);
    const t3 = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}.AAAA`;
    assertInvalidToken(await api(`${s.url}/x`, t3), t3, /algorithm/);
  });

  it('an ID token presented as a bearer → 401 invalid_token', async () => {
    const t = tokens.id_token!;
    assertInvalidToken(await api(`${s.url}/x`, t), t, /ID token/);
  });

  it('an opaque token while only jwt is accepted → 401 invalid_token', async () => {
    assertInvalidToken(await api(`${s.url}/x`, 'opaque-token-value'), 'opaque-token-value');
  });

  it('never a login redirect, even with navigation headers; JSON, not a page', async () => {
    const r = await api(`${s.url}/x`, 'not-a-good-token', { kind: 'navigate' });
    assertInvalidToken(r, 'not-a-good-token');
  });

  it('requiredScopes: a token without the scope → 403 insufficient_scope with scope=; with it → 200', async () => {
    const ok = await api(`${s.url}/scoped/a`, tokens.access_token);
    assert.equal(ok.status, 200, ok.body);
    const r = await api(`${s.url}/billing/a`, tokens.access_token);
    assert.equal(r.status, 403);
    assert.equal(r.json().error, 'insufficient_scope');
    assert.equal(bearerError(r), 'insufficient_scope');
    assert.match(String(r.headers['www-authenticate']), /scope="billing:read"/);
    assert.equal(r.headers['set-cookie'], undefined);
    // Every spelling of the path: case, encoding.
    for (const p of ['/BILLING/a', '/%62illing/a', '/billing;x/a']) {
      assert.equal((await api(`${s.url}${p}`, tokens.access_token)).status, 403, p);
    }
  });

  it('a group rule denying a bearer request → 403 insufficient_scope (no scope=)', async () => {
    const r = await api(`${s.url}/admin/x`, tokens.access_token);
    assert.equal(r.status, 403);
    assert.equal(bearerError(r), 'insufficient_scope');
    assert.doesNotMatch(String(r.headers['www-authenticate']), /scope="/);
  });

  it('an expired token → 401 invalid_token (after the clock tolerance)', async () => {
    const rp = await relyingParty(s.idp);
    const fresh = await rpLogin(rp, { login_hint: 'alice' });
    const [, payload] = parts(fresh.access_token);
    clock.set((payload.exp as number) * 1000 + (s.cfg.provider.clockToleranceSeconds + 5) * 1000);
    try {
      assertInvalidToken(await api(`${s.url}/x`, fresh.access_token), fresh.access_token, /expired/);
      // The cached token from earlier expired too: the cache never outlives exp.
      assertInvalidToken(await api(`${s.url}/x`, tokens.access_token), tokens.access_token, /expired/);
    } finally {
      clock.set(Date.now());
    }
  });
});

describe('bearer audiences, path prefixes and the cookie order', () => {
  let s: Stack;
  let tokens: Tokens;
  before(async () => {
    s = await startStack({
      config: {
        bearer: { accept: ['jwt'], audiences: ['grafana-api'], pathPrefixes: ['/api'] },
      } as never,
    });
    tokens = await rpLogin(await relyingParty(s.idp), { login_hint: 'alice' });
  });
  after(() => s.close());

  it('a token for another audience → 401 invalid_token', async () => {
    assertInvalidToken(await api(`${s.url}/api/x`, tokens.access_token), tokens.access_token, /aud/);
  });

  it('outside pathPrefixes the Authorization header is ignored (cookie rules: a 401 no_session)', async () => {
    const r = await api(`${s.url}/other`, tokens.access_token);
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'no_session');
    // …and so a navigation there is sent to sign in, as without a token.
    assert.equal((await api(`${s.url}/other`, tokens.access_token, { kind: 'navigate' })).status, 302);
  });

  it('a request with no credential is offered the Bearer scheme where tokens are read, and only there', async () => {
    // One field, challenges separated by commas (RFC 7235 §4.1): split before each scheme name.
    const challenges = (r: { headers: Record<string, string | string[] | undefined> }) =>
      String(r.headers['www-authenticate'] ?? '').split(/, (?=[A-Za-z]+ realm=)/);
    const on = await api(`${s.url}/api/x`, undefined);
    assert.equal(on.status, 401);
    assert.equal(on.json().error, 'no_session');
    // RFC 6750 §3: no error code when the request carried no token.
    assert.ok(challenges(on).includes('Bearer realm="gatehouse"'), String(challenges(on)));
    assert.ok(challenges(on).some((c) => c.startsWith('Gatehouse realm=')));
    const off = await api(`${s.url}/other`, undefined);
    assert.equal(off.status, 401);
    assert.deepEqual(
      challenges(off).filter((c) => c.startsWith('Bearer')),
      [],
    );
  });

  it('pathPrefixes match every spelling (case, encoding) and are segment-bounded', async () => {
    for (const p of ['/api', '/API/x', '/%61pi/x', '/api;v=1/x']) {
      const r = await api(`${s.url}${p}`, 'garbage');
      assert.equal(r.status, 401, p);
      assert.equal(r.json().error, 'invalid_token', p);
    }
    const r = await api(`${s.url}/apix`, 'garbage');
    assert.equal(r.json().error, 'no_session');
  });

  it('bearer wins over a session cookie on pathPrefixes (default): a bad token is refused though the cookie is good', async () => {
    const b = new TestBrowser();
    await login(s, b, { path: '/', user: 'alice' });
    assert.equal(
      (await b.request(`${s.url}/api/x`, { kind: 'api' })).status,
      200,
      'the cookie alone is good',
    );
    const r = await api(`${s.url}/api/x`, 'garbage', { browser: b });
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'invalid_token');
    assert.equal(r.headers['set-cookie'], undefined);
  });
});

describe('bearer.preferOverCookie: false', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: { bearer: { accept: ['jwt'], audiences: ['gatehouse-api'], preferOverCookie: false } } as never,
    });
  });
  after(() => s.close());

  it('a live session wins; without one the token decides (and a bad one is a 401, never a redirect)', async () => {
    const b = new TestBrowser();
    await login(s, b, { path: '/', user: 'alice' });
    const withCookie = await api(`${s.url}/x`, 'garbage', { browser: b });
    assert.equal(withCookie.status, 200);
    assert.equal(withCookie.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'], 'alice');
    const r = await api(`${s.url}/x`, 'garbage', { kind: 'navigate' });
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'invalid_token');
  });
});

describe('bearer not accepted (the default)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(() => s.close());

  it('the Authorization header is ignored, as before: no session → 401 no_session', async () => {
    const tokens = await rpLogin(await relyingParty(s.idp), { login_hint: 'alice' });
    const r = await api(`${s.url}/x`, tokens.access_token);
    assert.equal(r.status, 401);
    assert.equal(r.json().error, 'no_session');
    assert.doesNotMatch(String(r.headers['www-authenticate']), /Bearer/, 'no Bearer scheme is offered');
  });
});

describe('requiredScopes on cookie sessions: the scopes the provider granted at sign-in', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: {
        authorization: {
          rules: [
            { pathPrefix: '/profile', requiredScopes: ['email', 'profile'] },
            { pathPrefix: '/billing', requiredScopes: ['billing:read'] },
          ],
        },
      } as never,
    });
  });
  after(() => s.close());

  it('a granted scope passes; a scope never granted is a 403 (never silently ignored)', async () => {
    const b = new TestBrowser();
    await login(s, b, { path: '/', user: 'alice' });
    assert.equal((await b.request(`${s.url}/profile/me`, { kind: 'api' })).status, 200);
    const r = await b.request(`${s.url}/billing/x`, { kind: 'api' });
    assert.equal(r.status, 403);
    assert.equal(r.json().error, 'forbidden');
    assert.match(r.json<{ reason: string }>().reason, /billing:read/);
    assert.equal((await b.request(`${s.url}/Billing/x`, { kind: 'api' })).status, 403);
  });
});

describe('bearer upstream headers', () => {
  let s: Stack;
  let tokens: Tokens;
  before(async () => {
    s = await startStack({
      config: {
        bearer: { accept: ['jwt'], audiences: ['gatehouse-api'] },
        headers: { passAccessToken: true, passAuthorizationHeader: true },
        proxy: { allowUnderscoreHeaders: true },
      } as never,
    });
    tokens = await rpLogin(await relyingParty(s.idp), { login_hint: 'alice' });
  });
  after(() => s.close());

  it('passAccessToken / passAuthorizationHeader forward the bearer token itself', async () => {
    const r = await api(`${s.url}/x`, tokens.access_token);
    assert.equal(r.status, 200, r.body);
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-forwarded-access-token'], tokens.access_token);
    assert.equal(h.authorization, `Bearer ${tokens.access_token}`);
  });

  it("a client's own X-Forwarded-Client-Id, in any spelling, never reaches the upstream", async () => {
    const forged = {
      'x-forwarded-client-id': 'forged',
      x_forwarded_client_id: 'forged',
      'X-Forwarded-Client_Id': 'forged',
    };
    const r = await api(`${s.url}/x`, tokens.access_token, { headers: forged });
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-forwarded-client-id'], 'gatehouse');
    assert.equal(h.x_forwarded_client_id, undefined);
    assert.equal(h['x-forwarded-client_id'], undefined);
    // With a cookie session (no client id of its own): none at all.
    const b = new TestBrowser();
    await login(s, b, { path: '/', user: 'alice' });
    const c = await b.request(`${s.url}/x`, { kind: 'api', headers: forged });
    const ch = c.json<{ headers: Record<string, string> }>().headers;
    assert.equal(ch['x-forwarded-client-id'], undefined);
    assert.equal(ch.x_forwarded_client_id, undefined);
  });
});

describe('a WebSocket opened with a bearer token', () => {
  it('is proxied with the identity, and closed by the re-check once the token has expired', async () => {
    const up = await startWsUpstream();
    const clock = new ManualClock();
    const s = await startStack({
      clock,
      config: {
        upstream: up.url,
        bearer: { accept: ['jwt'], audiences: ['gatehouse-api'] },
        session: { websocketRecheckSeconds: 3600 },
      } as never,
    });
    try {
      const tokens = await rpLogin(await relyingParty(s.idp), { login_hint: 'alice' });
      const r = await connect(`${s.url.replace('http:', 'ws:')}/live`, {
        authorization: `Bearer ${tokens.access_token}`,
      });
      assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
      assert.equal(up.seen.at(-1)!['x-forwarded-client-id'], 'gatehouse');
      await s.gw.openSockets.recheck();
      r.ws.send('ping');
      assert.equal(String(((await once(r.ws, 'message')) as [Buffer])[0]), 'echo:ping');
      const [, payload] = parts(tokens.access_token);
      clock.set((payload.exp as number) * 1000 + (s.cfg.provider.clockToleranceSeconds + 5) * 1000);
      await s.gw.openSockets.recheck();
      await closedBy(r.ws, 'its token expired');
    } finally {
      await s.close();
      await up.close();
    }
  });
});

describe('bearer.issuers: a second issuer with its own keys and audiences', () => {
  let s: Stack;
  let jwksServer: Server;
  let jwksFetches = 0;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'partner-1', alg: 'ES256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      jwksFetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as AddressInfo).port;
    sign = (claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: 'https://partner.example',
        aud: 'partner-api',
        sub: 'svc-7',
        client_id: 'svc-7',
        iat: now,
        exp: now + 300,
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'partner-1', typ: 'at+jwt' })
        .sign(privateKey);
    };
    s = await startStack({
      config: {
        bearer: {
          accept: ['jwt'],
          audiences: ['gatehouse-api'],
          issuers: [
            {
              issuer: 'https://partner.example',
              audiences: ['partner-api'],
              jwksUri: `http://127.0.0.1:${port}/jwks`,
            },
          ],
        },
      } as never,
    });
  });
  after(async () => {
    await s.close();
    jwksServer.closeAllConnections();
    await new Promise((r) => jwksServer.close(r));
  });

  it("the partner's token is verified against the partner's keys (fetched once); its audience only", async () => {
    const t = await sign({});
    const r = await api(`${s.url}/x`, t);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'], 'svc-7');
    assert.equal((await api(`${s.url}/x`, await sign({ jti: 'other' }))).status, 200);
    assert.equal(jwksFetches, 1);
    const wrongAud = await sign({ aud: 'gatehouse' });
    assertInvalidToken(await api(`${s.url}/x`, wrongAud), wrongAud, /aud/);
    const unknownIss = await sign({ iss: 'https://evil.example' });
    assertInvalidToken(await api(`${s.url}/x`, unknownIss), unknownIss, /issuer/);
  });
});

describe('introspection has its own budget', () => {
  it('a flood of random opaque tokens at a hung introspection endpoint gets 503s, while a sign-in still completes', async () => {
    const hung = createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as AddressInfo).port;
    const s = await startStack({
      config: {
        provider: { maxConcurrentRequests: 2 },
        bearer: {
          accept: ['introspection'],
          audiences: ['gatehouse-api'],
          introspection: { endpoint: `http://127.0.0.1:${port}/introspect`, maxConcurrent: 2, maxQueue: 3 },
        },
      } as never,
    });
    try {
      const flood = Array.from({ length: 30 }, (_, i) => api(`${s.url}/x`, `random-token-${i}`));
      // Overflow is answered at once (503 + Retry-After), not queued behind the hung calls.
      const early = await Promise.race([
        Promise.all(flood.slice(5)),
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref()),
      ]);
      assert.notEqual(early, 'hung', 'the overflow was answered without waiting');
      if (early !== 'hung') {
        for (const r of early) {
          assert.equal(r.status, 503);
          assert.ok(Number(r.headers['retry-after']) >= 1);
        }
      }
      // The provider's own slots are free: a browser signs in while 5 introspections hang.
      const b = new TestBrowser();
      const hops = await login(s, b, { path: '/home', user: 'alice' });
      assert.equal(hops.at(-1)!.status, 200);
      hung.closeAllConnections();
      const rest = await Promise.all(flood.slice(0, 5));
      for (const r of rest) assert.equal(r.status, 503, 'an outage is a 503, never a 200');
    } finally {
      hung.closeAllConnections();
      await new Promise((r) => hung.close(r));
      await s.close();
    }
  });
});

void client;
