import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

/**
 * OIDC Front-Channel Logout 1.0 (issue 10 item 5), over HTTP: the dev IdP's end-session page
 * frames `/oauth2/frontchannel-logout?iss=&sid=`; only the session of that iss + sid ends.
 */

async function signedIn(stack: Stack, b: TestBrowser): Promise<boolean> {
  const r = await b.request(`${stack.url}/`);
  if (r.status === 200) return true;
  assert.equal(r.status, 302);
  assert.ok(r.location?.includes('/oauth2/start') || r.location?.startsWith(stack.idp.issuer), r.location);
  return false;
}

/** Signs the browser out at the IdP's end-session page directly; returns the iframe's URL. */
async function signOutAtIdp(stack: Stack, b: TestBrowser): Promise<URL> {
  const r = await b.request(`${stack.idp.issuer}/end-session`);
  assert.equal(r.status, 200);
  const src = /<iframe class="rp-logout" src="([^"]+)"/.exec(r.body)?.[1]?.replaceAll('&#38;', '&');
  assert.ok(src, `an iframe on the end-session page: ${r.body}`);
  const csp = String(r.headers['content-security-policy']);
  assert.match(csp, new RegExp(`frame-src ${new URL(stack.url).origin}(;|$)`));
  return new URL(src);
}

describe('front-channel logout (dev IdP end-session → /oauth2/frontchannel-logout)', () => {
  let stack: Stack;
  const frontchannel = () => `${stack.url}/oauth2/frontchannel-logout`;

  before(async () => {
    // No back-channel: only the front channel can end the gateway's session here.
    stack = await startStack({
      frontchannel: true,
      idp: { backchannelLogoutUri: undefined },
      config: { logging: { level: 'info' } },
    });
  });
  after(() => stack?.close());

  it('the dev IdP advertises front-channel logout with sessions', async () => {
    const d = (await (await fetch(`${stack.idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(d.frontchannel_logout_supported, true);
    assert.equal(d.frontchannel_logout_session_supported, true);
  });

  it('the IdP frames iss + sid; the framed request ends that session only, another sid survives', async () => {
    const a = new TestBrowser();
    const b = new TestBrowser();
    await login(stack, a);
    await login(stack, b);
    assert.equal(await signedIn(stack, a), true);
    assert.equal(await signedIn(stack, b), true);
    const frame = await signOutAtIdp(stack, a);
    assert.equal(frame.origin + frame.pathname, frontchannel());
    assert.equal(frame.searchParams.get('iss'), stack.idp.issuer);
    const sid = frame.searchParams.get('sid');
    assert.ok(sid);
    // Signing out at the IdP alone ends nothing at the gateway until the iframe loads.
    assert.equal(await signedIn(stack, a), true);
    // The iframe's request: no cookie of ours comes along (a third-party frame may have none).
    const r = await new TestBrowser().request(frame.href);
    assert.equal(r.status, 200);
    assert.match(r.body, /Your session has ended/);
    assert.equal(await signedIn(stack, a), false, 'the session of that sid is gone');
    assert.equal(await signedIn(stack, b), true, 'a session of another sid survives');
    assert.ok(stack.logs.some((l) => l.msg === 'front-channel logout' && l.sid === sid && l.ended === 1));
  });

  it('wrong iss, missing iss or sid, repeated sid, unknown sid: nothing ends', async () => {
    const a = new TestBrowser();
    await login(stack, a);
    const frame = await signOutAtIdp(stack, a);
    const sid = frame.searchParams.get('sid')!;
    const iss = stack.idp.issuer;
    const q = (p: Record<string, string | string[]>) => {
      const s = new URLSearchParams();
      for (const [k, v] of Object.entries(p)) for (const x of [v].flat()) s.append(k, x);
      return `${frontchannel()}?${s}`;
    };
    const cases: Array<[string, string, number]> = [
      ['iss with a trailing slash', q({ iss: `${iss}/`, sid }), 400],
      ['another issuer', q({ iss: 'https://evil.example', sid }), 400],
      ['iss differing in case', q({ iss: iss.toUpperCase(), sid }), 400],
      ['no sid', q({ iss }), 400],
      ['empty sid', q({ iss, sid: '' }), 400],
      ['no iss', q({ sid }), 400],
      ['nothing', frontchannel(), 400],
      ['sid twice', q({ iss, sid: [sid, 'other'] }), 400],
      ['unknown sid', q({ iss, sid: 'not-a-session-id' }), 200],
    ];
    for (const [label, url, status] of cases) {
      // Even with the victim's own cookie attached: the cookie is never what ends a session.
      const r = await a.request(url);
      assert.equal(r.status, status, label);
      assert.equal(await signedIn(stack, a), true, `${label}: still signed in`);
    }
    // And the right iss + sid does end it (so the cases above failed for their reason only).
    assert.equal((await new TestBrowser().request(frame.href)).status, 200);
    assert.equal(await signedIn(stack, a), false);
  });

  it('the answer may be framed by the issuer origin only; not cached; no X-Frame-Options', async () => {
    for (const url of [
      `${frontchannel()}?iss=${encodeURIComponent(stack.idp.issuer)}&sid=x`,
      frontchannel(),
    ]) {
      for (const kind of ['navigate', 'api'] as const) {
        const r = await new TestBrowser().request(url, { kind });
        const csp = String(r.headers['content-security-policy']);
        assert.match(csp, new RegExp(`frame-ancestors ${new URL(stack.idp.issuer).origin}(;|$)`), csp);
        assert.doesNotMatch(csp, /frame-ancestors 'none'/);
        assert.equal(r.headers['x-frame-options'], undefined);
        assert.equal(r.headers['cache-control'], 'no-store');
        assert.match(String(r.headers['content-type']), /^text\/html/);
      }
    }
    // Every other page of ours stays unframable.
    const other = await new TestBrowser().request(`${stack.url}/oauth2/signed-out`);
    assert.match(String(other.headers['content-security-policy']), /frame-ancestors 'none'/);
  });
});

describe('front-channel logout with frontchannelLogoutSessionRequired: false', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      frontchannel: true,
      config: { logging: { level: 'info' }, provider: { frontchannelLogoutSessionRequired: false } },
    });
  });
  after(() => stack?.close());

  it('a request without iss and sid answers 200 and still ends nothing (never by cookie)', async () => {
    const a = new TestBrowser();
    await login(stack, a);
    const r = await a.request(`${stack.url}/oauth2/frontchannel-logout`);
    assert.equal(r.status, 200);
    assert.equal(await signedIn(stack, a), true);
    const wrongIss = await a.request(`${stack.url}/oauth2/frontchannel-logout?iss=x&sid=y`);
    assert.equal(wrongIss.status, 400);
  });
});
