import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

/**
 * /oauth2/logout is CSRF-safe (issue 8 item 9). Every request below is written with node:http and
 * exactly the headers named (plus the session cookie): no client adds fetch metadata of its own.
 */
interface Raw {
  status: number;
  location: string | undefined;
  setCookie: string[];
  body: string;
}

function raw(url: string, method: string, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          setCookie: res.headers['set-cookie'] ?? [],
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

type Outcome = 'logout' | 'page' | 'refused';

describe('logout is CSRF-safe (raw headers)', () => {
  let s: Stack;
  let own: string;
  before(async () => {
    s = await startStack();
    own = new URL(s.url).origin;
  });
  after(() => s.close());

  const other = 'http://evil.example';
  // Another port on the same host: same-site, but another origin (like a sibling subdomain).
  const otherPort = () => `http://127.0.0.1:${Number(new URL(s.url).port) + 1}`;

  const cases: Array<{ name: string; method: string; headers: () => Record<string, string>; want: Outcome }> =
    [
      // GET: only when the browser says it is same-origin
      {
        name: 'GET Sec-Fetch-Site: same-origin',
        method: 'GET',
        headers: () => ({ 'sec-fetch-site': 'same-origin' }),
        want: 'logout',
      },
      {
        name: 'GET Sec-Fetch-Site: none (typed URL, bookmark)',
        method: 'GET',
        headers: () => ({ 'sec-fetch-site': 'none' }),
        want: 'logout',
      },
      {
        name: 'GET Sec-Fetch-Site: same-site',
        method: 'GET',
        headers: () => ({ 'sec-fetch-site': 'same-site' }),
        want: 'page',
      },
      {
        name: 'GET Sec-Fetch-Site: cross-site',
        method: 'GET',
        headers: () => ({ 'sec-fetch-site': 'cross-site' }),
        want: 'page',
      },
      {
        name: 'GET Sec-Fetch-Site: same-origin but Origin names another origin',
        method: 'GET',
        headers: () => ({ 'sec-fetch-site': 'same-origin', origin: other }),
        want: 'page',
      },
      {
        name: 'GET Origin: own origin (no fetch metadata)',
        method: 'GET',
        headers: () => ({ origin: own }),
        want: 'logout',
      },
      { name: 'GET Origin: another origin', method: 'GET', headers: () => ({ origin: other }), want: 'page' },
      {
        name: 'GET Origin: another port of the same host',
        method: 'GET',
        headers: () => ({ origin: otherPort() }),
        want: 'page',
      },
      { name: 'GET Origin: null', method: 'GET', headers: () => ({ origin: 'null' }), want: 'page' },
      {
        name: 'GET Referer: a page of our own origin',
        method: 'GET',
        headers: () => ({ referer: `${own}/app/page?x=1` }),
        want: 'logout',
      },
      {
        name: 'GET Referer: another origin',
        method: 'GET',
        headers: () => ({ referer: `${other}/page` }),
        want: 'page',
      },
      {
        name: 'GET Referer: another port of the same host',
        method: 'GET',
        headers: () => ({ referer: `${otherPort()}/` }),
        want: 'page',
      },
      {
        name: 'GET Referer: not a URL',
        method: 'GET',
        headers: () => ({ referer: 'not a url' }),
        want: 'page',
      },
      {
        name: 'GET Origin: another origin, Referer: own',
        method: 'GET',
        headers: () => ({ origin: other, referer: `${own}/` }),
        want: 'page',
      },
      { name: 'GET with none of them', method: 'GET', headers: () => ({}), want: 'page' },
      { name: 'HEAD with none of them', method: 'HEAD', headers: () => ({}), want: 'page' },
      // POST: unless the browser says it comes from another origin
      {
        name: 'POST Sec-Fetch-Site: same-origin',
        method: 'POST',
        headers: () => ({ 'sec-fetch-site': 'same-origin', origin: own }),
        want: 'logout',
      },
      { name: 'POST Origin: own origin', method: 'POST', headers: () => ({ origin: own }), want: 'logout' },
      {
        name: 'POST with none of them (a non-browser client)',
        method: 'POST',
        headers: () => ({}),
        want: 'logout',
      },
      {
        name: 'POST Origin: null with Sec-Fetch-Site: same-origin (a no-referrer page)',
        method: 'POST',
        headers: () => ({ 'sec-fetch-site': 'same-origin', origin: 'null' }),
        want: 'logout',
      },
      {
        name: 'POST Sec-Fetch-Site: cross-site',
        method: 'POST',
        headers: () => ({ 'sec-fetch-site': 'cross-site', origin: other }),
        want: 'refused',
      },
      {
        name: 'POST Sec-Fetch-Site: same-site',
        method: 'POST',
        headers: () => ({ 'sec-fetch-site': 'same-site', origin: otherPort() }),
        want: 'refused',
      },
      {
        name: 'POST Origin: another origin',
        method: 'POST',
        headers: () => ({ origin: other }),
        want: 'refused',
      },
      { name: 'POST Origin: null', method: 'POST', headers: () => ({ origin: 'null' }), want: 'refused' },
      {
        name: 'POST Referer: another origin',
        method: 'POST',
        headers: () => ({ referer: `${other}/` }),
        want: 'refused',
      },
    ];

  for (const c of cases) {
    it(`${c.name} → ${c.want === 'logout' ? 'logs out' : c.want === 'page' ? '200 confirmation page, session kept' : '403 confirmation page, session kept'}`, async () => {
      const b = new TestBrowser();
      await login(s, b);
      const cookie = `gatehouse=${b.cookie(s.url, 'gatehouse')!}`;
      const r = await raw(`${s.url}/oauth2/logout`, c.method, { ...c.headers(), cookie });
      const me = await new TestBrowser().request(`${s.url}/whoami`, { kind: 'api', headers: { cookie } });
      if (c.want === 'logout') {
        assert.equal(r.status, c.method === 'POST' ? 303 : 302, r.body);
        assert.ok(r.location?.startsWith(`${s.idp.issuer}/`), `to the provider's end-session: ${r.location}`);
        assert.match(r.setCookie.join('\n'), /^gatehouse=; .*Max-Age=0/m);
        assert.equal(me.status, 401, 'the session ended');
        return;
      }
      assert.equal(r.status, c.want === 'page' ? 200 : 403, r.body);
      assert.equal(r.location, undefined);
      assert.deepEqual(r.setCookie, [], 'no cookie is cleared');
      if (c.method !== 'HEAD') {
        assert.match(
          r.body,
          /<form method="post" action="\/oauth2\/logout"><button[^>]*>Sign out<\/button><\/form>/,
        );
        assert.doesNotMatch(r.body, /<script/i);
      }
      assert.equal(me.status, 200, 'the session is kept');
      assert.equal(me.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'], 'alice');
    });
  }

  it('the confirmation page is a page of ours: HTML, no-store, CSP without scripts', async () => {
    const r = await raw(`${s.url}/oauth2/logout`, 'GET', { 'sec-fetch-site': 'cross-site' });
    assert.equal(r.status, 200);
    assert.match(r.body, /Sign out\?/);
    const again = await new TestBrowser().request(`${s.url}/oauth2/logout`, {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    assert.match(String(again.headers['content-type']), /^text\/html/);
    assert.equal(again.headers['cache-control'], 'no-store');
    assert.match(String(again.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(String(again.headers['content-security-policy']), /script-src/);
    // The submit's answer redirects to the provider's logout: CSP form-action covers redirects.
    assert.match(
      String(again.headers['content-security-policy']),
      new RegExp(`form-action 'self' ${new URL(s.idp.issuer).origin.replace(/[.]/g, '\\.')}`),
    );
    // Old browsers without fetch metadata send `Origin: null` from a no-referrer page.
    assert.equal(again.headers['referrer-policy'], 'same-origin');
  });

  it("the confirmation page's button (a same-origin POST) ends the session and follows to the signed-out page", async () => {
    const b = new TestBrowser();
    await login(s, b);
    const page = await b.request(`${s.url}/oauth2/logout`, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(page.status, 200);
    assert.equal((await b.request(`${s.url}/whoami`, { kind: 'api' })).status, 200);
    const hops = await b.follow(`${s.url}/oauth2/logout`, {
      first: {
        method: 'POST',
        headers: {
          'sec-fetch-site': 'same-origin',
          origin: own,
          'content-type': 'application/x-www-form-urlencoded',
        },
      },
    });
    assert.equal(hops[0]!.status, 303);
    assert.equal(hops.at(-1)!.status, 200);
    assert.match(hops.at(-1)!.body, /signed out/i);
    assert.equal(b.cookie(s.url, 'gatehouse'), undefined);
    assert.equal((await b.request(`${s.url}/whoami`, { kind: 'api' })).status, 401);
  });
});
