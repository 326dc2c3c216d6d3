import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { ADMIN_SPELLINGS, assertRefused, RARER_ADMIN_SPELLINGS } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

const API = { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Dest': 'empty' };

/**
 * Every spelling of a denied path stays denied (403) or is refused (400), written raw to the
 * socket so `#` and `\` really reach the gateway. Policy: `/admin` needs the group `admins`,
 * `/public` is open; bob is in `dev` only.
 */
describe('paths: every spelling of a denied path is denied or refused (reverse proxy, raw sockets)', () => {
  let s: Stack;
  let bobCookie: string;
  let aliceCookie: string;
  before(async () => {
    s = await startStack({
      config: {
        skipAuth: ['/public'],
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
      } as never,
    });
    const bob = new TestBrowser();
    await login(s, bob, { user: 'bob' });
    bobCookie = `gatehouse=${bob.cookie(s.url, 'gatehouse')}`;
    const alice = new TestBrowser();
    await login(s, alice, { user: 'alice' });
    aliceCookie = `gatehouse=${alice.cookie(s.url, 'gatehouse')}`;
  });
  after(() => s.close());

  it('bob never reaches /admin: each spelling is 403 or 400, and the upstream is not reached', async () => {
    const hits = s.upstream.hits;
    const seen: string[] = [];
    for (const target of ADMIN_SPELLINGS) {
      const r = await rawRequest(s.url, target, { ...API, Cookie: bobCookie });
      seen.push(`${target} → ${r.status}`);
      assert.ok(r.status === 403 || r.status === 400, `${target}: ${r.status} ${r.body}`);
      if (r.status === 400) assertRefused(r, target);
      else assert.equal(r.json().error, 'forbidden', target);
    }
    assert.equal(s.upstream.hits, hits, `nothing reached the upstream:\n${seen.join('\n')}`);
  });

  it('a fragment, a backslash or %25 is 400; other case and escapes are 403 (a rule in any case)', async () => {
    for (const target of ['/admin#x', '/admin%252f', '/%252e%252e/admin', '/public\\..\\admin']) {
      assertRefused(await rawRequest(s.url, target, { ...API, Cookie: bobCookie }), target);
    }
    assertRefused(await rawRequest(s.url, '/public%5C..%5Cadmin', { ...API, Cookie: bobCookie }), '%5C');
    for (const target of ['/Admin', '/ADMIN', '/%41dmin', '/ad%6din', '/admin%23']) {
      const r = await rawRequest(s.url, target, { ...API, Cookie: bobCookie });
      assert.equal(r.status, 403, `${target}: ${r.body}`);
    }
  });

  it('refused before any routing: /oauth2/* and /healthz too, and without a session', async () => {
    for (const target of [
      '/oauth2/\\metrics',
      '/oauth2/%5cmetrics',
      '/oauth2/start#x',
      '/oauth2/userinfo%252f',
      '/healthz#',
      '/public/x#y',
      '/public\\x',
    ]) {
      assertRefused(await rawRequest(s.url, target, API), target);
    }
  });

  it('a navigation gets the 400 as a page with the request id', async () => {
    const r = await rawRequest(s.url, '/admin#x', {
      Accept: 'text/html',
      'Sec-Fetch-Mode': 'navigate',
      'Sec-Fetch-Dest': 'document',
      Cookie: bobCookie,
    });
    assert.equal(r.status, 400);
    assert.match(r.headers['content-type'] ?? '', /text\/html/);
    assert.match(r.body, /fragment/);
    assert.ok(r.body.includes(r.headers['x-request-id'] ?? '-'), 'the page shows the request id');
  });

  it('skipAuth opens only the exact case: /PUBLIC/x needs a login, /public/x is open', async () => {
    const upper = await rawRequest(s.url, '/PUBLIC/x', API);
    assert.equal(upper.status, 401, upper.body);
    assert.equal(upper.json().error, 'no_session');
    const open = await rawRequest(s.url, '/public/x', API);
    assert.equal(open.status, 200, open.body);
    assert.equal(open.json().url, '/public/x');
  });

  it('the query is not a path: %25 and \\ there are fine; the forwarded path is canonical, case kept', async () => {
    const q = await rawRequest(s.url, '/search?q=100%25&p=a\\b', { ...API, Cookie: bobCookie });
    assert.equal(q.status, 200, q.body);
    assert.equal(q.json().url, '/search?q=100%25&p=a\\b');
    // alice (admins) is let through every case spelling; the upstream gets the canonical path,
    // not a lower-cased one
    for (const [target, forwarded] of [
      ['/Admin/Users', '/Admin/Users'],
      ['/%41dmin/x', '/Admin/x'],
      ['/public/../ADMIN', '/ADMIN'],
    ]) {
      const r = await rawRequest(s.url, target!, { ...API, Cookie: aliceCookie });
      assert.equal(r.status, 200, `${target}: ${r.body}`);
      assert.equal(r.json().url, forwarded, target);
    }
  });

  it('rarer decoders: non-ASCII case folding, Windows dots/spaces, NFKC, %3B are 403; %00–%1F, %7F, invalid UTF-8 are 400', async () => {
    const hits = s.upstream.hits;
    for (const target of RARER_ADMIN_SPELLINGS.denied) {
      const r = await rawRequest(s.url, target, { ...API, Cookie: bobCookie });
      assert.equal(r.status, 403, `${target}: ${r.status} ${r.body}`);
      assert.equal(r.json().error, 'forbidden', target);
    }
    for (const target of RARER_ADMIN_SPELLINGS.refused) {
      assertRefused(await rawRequest(s.url, target, { ...API, Cookie: bobCookie }), target);
    }
    assert.equal(s.upstream.hits, hits, 'nothing reached the upstream');
    // the reasons say what was wrong, without echoing the target
    const nul = await rawRequest(s.url, '/admin%00', { ...API, Cookie: bobCookie });
    assert.match(nul.json<{ reason: string }>().reason, /control character/);
    const overlong = await rawRequest(s.url, '/public/%c0%ae%c0%ae/admin', API);
    assert.match(overlong.json<{ reason: string }>().reason, /not valid UTF-8/);
  });

  it('the absolute form and %uXXXX are refused before anything is decided (anonymous, on a skipAuth path too)', async () => {
    const hits = s.upstream.hits;
    for (const target of [
      'http://127.0.0.1/admin',
      `${s.url}/public/x`,
      '/public/%u002e%u002e/admin',
      '/public/%u002E',
    ]) {
      const r = await rawRequest(s.url, target, API);
      assertRefused(r, target);
    }
    assert.equal(s.upstream.hits, hits, 'nothing reached the upstream');
  });

  it('rarer decoders: skipAuth does not open a path that any reading puts outside it (anonymous)', async () => {
    for (const target of [
      '/public/..%3B/admin',
      '/public/..%3b/admin',
      '/public/..%20/admin',
      '/public/%EF%BC%8E%EF%BC%8E/admin',
      '/publ%C4%B1c/x',
      '/%EF%BD%90ublic/x',
    ]) {
      const r = await rawRequest(s.url, target, API);
      assert.equal(r.status, 401, `${target}: ${r.status} ${r.body}`);
    }
    for (const target of ['/public/%c0%ae%c0%ae/admin', '/public/x%00', '/public/%e0%80%ae']) {
      assertRefused(await rawRequest(s.url, target, API), target);
    }
    // ordinary non-ASCII, spaces and dots under /public stay open, forwarded as sent
    for (const target of ['/public/caf%C3%A9', '/public/x%20', '/public/%C4%B1', '/public/a.b']) {
      const r = await rawRequest(s.url, target, API);
      assert.equal(r.status, 200, `${target}: ${r.body}`);
      assert.equal(r.json().url, target);
    }
  });

  it('rarer decoders: alice passes, and the upstream gets the canonical path (never a folded or stripped one)', async () => {
    for (const [target, forwarded] of [
      ['/adm%C4%B1n', '/adm%C4%B1n'],
      ['/admin%2e', '/admin.'],
      ['/admin%20.%20/x', '/admin%20.%20/x'],
      ['/%EF%BD%81dmin', '/%EF%BD%81dmin'],
      ['/admin%3b/panel', '/admin%3B/panel'],
      ['/search?q=%00%c0', '/search?q=%00%c0'],
    ]) {
      const r = await rawRequest(s.url, target!, { ...API, Cookie: aliceCookie });
      assert.equal(r.status, 200, `${target}: ${r.body}`);
      assert.equal(r.json().url, forwarded, target);
    }
  });

  it('WebSocket upgrades are refused the same way (400), before the engine is asked', async () => {
    const upgrade = {
      Cookie: aliceCookie,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    };
    for (const target of ['/socket#x', '/socket\\x', '/socket%252f', '/socket%00', '/socket%c0%af']) {
      const r = await rawRequest(s.url, target, upgrade);
      assertRefused(r, `upgrade ${target}`);
    }
  });
});

describe('paths: proxy.allowEncodedPercent', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: {
        skipAuth: ['/public'],
        proxy: { allowEncodedPercent: true },
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
      } as never,
    });
  });
  after(() => s.close());

  it('accepts %25 in the path, still refuses # and backslashes, and rules hold for double decoding', async () => {
    const bob = new TestBrowser();
    await login(s, bob, { user: 'bob' });
    const cookie = `gatehouse=${bob.cookie(s.url, 'gatehouse')}`;
    const ok = await rawRequest(s.url, '/files/100%25', { ...API, Cookie: cookie });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json().url, '/files/100%25');
    for (const target of ['/%2561dmin', '/admin%252fx', '/public/%252e%252e/admin']) {
      const r = await rawRequest(s.url, target, { ...API, Cookie: cookie });
      assert.equal(r.status, 403, `${target}: ${r.body}`);
    }
    assertRefused(await rawRequest(s.url, '/x#y', { ...API, Cookie: cookie }), '#');
    assertRefused(await rawRequest(s.url, '/x%5cy', { ...API, Cookie: cookie }), '%5c');
  });
});
