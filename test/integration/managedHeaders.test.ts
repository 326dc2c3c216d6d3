import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { connect, startWsUpstream } from '../helpers/websocket.js';
import { startWsgiUpstream, WSGI_SMUGGLED, type WsgiEnviron, type WsgiUpstream } from '../helpers/wsgi.js';

const POLICY = {
  skipAuth: ['/public'],
  authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
};

/**
 * Every spelling of a header Gatehouse manages that a WSGI/PHP/CGI upstream reads as the real
 * one; the reverse proxy also owns X-Forwarded-For and -Proto, so those are smuggled too.
 */
const SMUGGLED = { ...WSGI_SMUGGLED, X_Forwarded_For: '6.6.6.6', X_Forwarded_Proto: 'https' };

type Echo = { headers: Record<string, string | undefined> };

/** A request through node:http, whose header names go out exactly as written here. */
function raw(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function signIn(s: Stack, user: string): Promise<string> {
  const b = new TestBrowser();
  await login(s, b, { user });
  return `gatehouse=${b.cookie(s.url, 'gatehouse')}`;
}

describe('managed headers cannot be smuggled: a WSGI upstream behind the reverse proxy', () => {
  let wsgi: WsgiUpstream;
  let s: Stack;
  let bob: string;
  before(async () => {
    wsgi = await startWsgiUpstream();
    s = await startStack({ config: { ...POLICY, upstream: wsgi.url } as never });
    bob = await signIn(s, 'bob');
  });
  after(async () => {
    await s?.close();
    await wsgi?.close();
  });

  it('bob (group dev) stays bob in dev whatever underscore spellings he sends', async () => {
    const r = await raw(`${s.url}/whoami`, { cookie: bob, ...SMUGGLED });
    assert.equal(r.status, 200, r.body);
    const env = JSON.parse(r.body) as WsgiEnviron;
    assert.equal(env.HTTP_X_FORWARDED_USER, 'bob');
    assert.equal(env.HTTP_X_FORWARDED_GROUPS, 'dev');
    assert.equal(env.HTTP_X_FORWARDED_EMAIL, 'bob@example.com');
    assert.equal(env.HTTP_X_FORWARDED_PREFERRED_USERNAME, 'bob');
    assert.equal(env.HTTP_X_FORWARDED_ACCESS_TOKEN, undefined);
    assert.equal(env.HTTP_X_REAL_IP, '127.0.0.1');
    assert.equal(env.HTTP_X_FORWARDED_FOR, '127.0.0.1');
    assert.equal(env.HTTP_X_FORWARDED_HOST, new URL(s.url).host);
    assert.equal(env.HTTP_X_FORWARDED_PROTO, 'http');
    // and /admin stays closed to him
    assert.equal((await raw(`${s.url}/admin`, { cookie: bob, ...SMUGGLED })).status, 403);
  });

  it('an anonymous client on a skipAuth path gets no identity at all', async () => {
    const r = await raw(`${s.url}/public/page`, { ...SMUGGLED, 'X-Forwarded-User': 'alice' });
    assert.equal(r.status, 200, r.body);
    const env = JSON.parse(r.body) as WsgiEnviron;
    const forged = Object.keys(env).filter((k) =>
      /^HTTP_X_FORWARDED_(USER|GROUPS|EMAIL|PREFERRED_USERNAME|ACCESS_TOKEN)$/.test(k),
    );
    assert.deepEqual(forged, [], JSON.stringify(env));
    assert.equal(env.HTTP_X_REAL_IP, '127.0.0.1');
    assert.equal(env.HTTP_X_FORWARDED_FOR, '127.0.0.1');
  });
});

describe('managed headers cannot be smuggled: every spelling, Node echo upstream', () => {
  let s: Stack;
  let bob: string;
  before(async () => {
    s = await startStack({ config: POLICY as never });
    bob = await signIn(s, 'bob');
  });
  after(() => s?.close());

  it('dash, underscore, dot and mixed-case spellings of ours are dropped; ours are set', async () => {
    const r = await raw(`${s.url}/x`, {
      cookie: bob,
      ...SMUGGLED,
      'X-FORWARDED-GROUPS': 'admins',
      'x-Forwarded-User': 'mallory',
      'X-Forwarded-Groups-Truncated': 'true',
      'X-Forwarded-Access-Token': 'forged',
      'X-Auth-Request-User': 'mallory',
      X_Auth_Request_Email: 'mallory@evil.example',
      'X-Gatehouse-Anything': 'forged',
      'X-Real-IP': '6.6.6.6',
      'X-Forwarded-Host': 'evil.example',
      'X-Forwarded-Proto': 'https',
      my_header: 'underscore: dropped by default, as nginx does',
      'X-Kept': 'yes',
    });
    assert.equal(r.status, 200, r.body);
    const h = (JSON.parse(r.body) as Echo).headers;
    assert.equal(h['x-forwarded-user'], 'bob');
    assert.equal(h['x-forwarded-groups'], 'dev');
    assert.equal(h['x-forwarded-email'], 'bob@example.com');
    assert.equal(h['x-forwarded-groups-truncated'], undefined);
    assert.equal(h['x-forwarded-access-token'], undefined);
    assert.equal(h['x-real-ip'], '127.0.0.1');
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-host'], new URL(s.url).host);
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-kept'], 'yes');
    const leaked = Object.keys(h).filter(
      (k) => /[^a-z0-9-]/.test(k) || k.startsWith('x-auth-request-') || k.startsWith('x-gatehouse-'),
    );
    assert.deepEqual(leaked, [], JSON.stringify(h));
  });

  it('a skipAuth request loses the same headers and carries no identity', async () => {
    const r = await raw(`${s.url}/public/x`, {
      ...SMUGGLED,
      'X-Forwarded-User': 'alice',
      'X-Forwarded-Groups': 'admins',
      'X-Auth-Request-User': 'alice',
    });
    assert.equal(r.status, 200, r.body);
    const h = (JSON.parse(r.body) as Echo).headers;
    const identity = Object.keys(h).filter(
      (k) => /^x[-_.]forwarded[-_.](user|groups|email|preferred)/.test(k) || /[^a-z0-9-]/.test(k),
    );
    assert.deepEqual(identity, [], JSON.stringify(h));
    assert.equal(h['x-auth-request-user'], undefined);
  });
});

describe('managed headers: proxy.allowUnderscoreHeaders and headers.passAuthorizationHeader', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: {
        ...POLICY,
        proxy: { allowUnderscoreHeaders: true },
        headers: { passAuthorizationHeader: true },
      } as never,
    });
  });
  after(() => s?.close());

  it('other underscore headers pass, every alias of ours is still dropped', async () => {
    const cookie = await signIn(s, 'bob');
    const r = await raw(`${s.url}/x`, {
      cookie,
      ...SMUGGLED,
      X_Auth_Request_User: 'mallory',
      'x-gatehouse_thing': 'forged',
      my_header: 'kept',
    });
    assert.equal(r.status, 200, r.body);
    const h = (JSON.parse(r.body) as Echo).headers;
    assert.equal(h.my_header, 'kept');
    assert.equal(h['x-forwarded-user'], 'bob');
    assert.match(h.authorization ?? '', /^Bearer ey/);
    const leaked = Object.keys(h).filter((k) => k !== 'my_header' && /[^a-z0-9-]/.test(k));
    assert.deepEqual(leaked, [], JSON.stringify(h));
  });

  it("the client's Authorization never passes where Gatehouse sets it, skipAuth paths included", async () => {
    const r = await raw(`${s.url}/public/x`, { authorization: 'Bearer forged' });
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as Echo).headers.authorization, undefined);
  });
});

describe('X-Forwarded-For and X-Real-IP are rebuilt from server.trustedProxies', () => {
  it('an untrusted peer: its X-Forwarded-For is not believed', async () => {
    const s = await startStack({ config: { ...POLICY, server: { trustedProxies: [] } } as never });
    try {
      const r = await raw(`${s.url}/public/x`, { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.6' });
      const h = (JSON.parse(r.body) as Echo).headers;
      assert.equal(h['x-forwarded-for'], '127.0.0.1');
      assert.equal(h['x-real-ip'], '127.0.0.1');
    } finally {
      await s.close();
    }
  });

  it('a trusted peer: its chain is kept, the peer appended, X-Real-IP is the client', async () => {
    const s = await startStack({
      config: { ...POLICY, server: { trustedProxies: ['127.0.0.1/32'] } } as never,
    });
    try {
      const r = await raw(`${s.url}/public/x`, { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '7.7.7.7' });
      const h = (JSON.parse(r.body) as Echo).headers;
      assert.equal(h['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
      assert.equal(h['x-real-ip'], '6.6.6.6');
    } finally {
      await s.close();
    }
  });

  it('a trusted peer’s upload with Expect: 100-continue: its X-Forwarded-Host and client are believed too (they were not)', async () => {
    const s = await startStack({
      config: { ...POLICY, server: { trustedProxies: ['127.0.0.1/32'] } } as never,
    });
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${s.url}/public/upload`, {
          method: 'POST',
          headers: {
            'X-Forwarded-For': '6.6.6.6',
            'X-Forwarded-Host': 'apps.example.test',
            expect: '100-continue',
            'content-length': '2',
          },
          agent: false,
        });
        req.on('continue', () => req.end('hi'));
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
      assert.equal(r.status, 200, r.body);
      const h = (JSON.parse(r.body) as Echo).headers;
      assert.equal(h['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
      assert.equal(h['x-real-ip'], '6.6.6.6');
      // The host the trusted proxy was asked for: what routing and the upstream go by.
      assert.equal(h['x-forwarded-host'], 'apps.example.test');
    } finally {
      await s.close();
    }
  });
});

describe('managed headers on WebSocket upgrades', () => {
  let up: Awaited<ReturnType<typeof startWsUpstream>>;
  let s: Stack;
  before(async () => {
    up = await startWsUpstream();
    s = await startStack({ config: { ...POLICY, upstream: up.url } as never });
  });
  after(async () => {
    await s?.close();
    await up?.close();
  });

  for (const [what, path, signedIn] of [
    ['a signed-in upgrade', '/live', true],
    ['a skipAuth upgrade', '/public/live', false],
  ] as const) {
    it(`${what}: underscore spellings are dropped`, async () => {
      const cookie = signedIn ? await signIn(s, 'bob') : undefined;
      const r = await connect(`${s.url.replace('http:', 'ws:')}${path}`, {
        ...(cookie ? { cookie } : {}),
        ...SMUGGLED,
        'X-Forwarded-User': 'mallory',
      });
      assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
      const h = up.seen.at(-1)!;
      assert.equal(h['x-forwarded-user'], signedIn ? 'bob' : undefined);
      assert.equal(h['x-forwarded-groups'], signedIn ? 'dev' : undefined);
      assert.equal(h['x-forwarded-for'], '127.0.0.1');
      assert.equal(h['x-real-ip'], '127.0.0.1');
      const leaked = Object.keys(h).filter((k) => /[^a-z0-9-]/.test(k));
      assert.deepEqual(leaked, [], JSON.stringify(h));
      r.ws.close();
      await once(r.ws, 'close');
    });
  }
});
