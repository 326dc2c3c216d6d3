import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { startStack } from '../helpers/stack.js';

/**
 * oauth2-proxy's nginx example sends `X-Auth-Request-Redirect: $request_uri` on every /oauth2/
 * request. A user who opens /oauth2/sign_in directly (a bookmark, the "Sign in again" habit) then
 * names /oauth2/sign_in itself as the return URL: after the callback the browser would start the
 * next login, and so on until the loop guard stops it with "Sign-in keeps failing". A return URL
 * into Gatehouse's own /oauth2/ namespace is never where a user wants to land.
 */
describe('the return URL after sign-in is never a Gatehouse endpoint', () => {
  // The reply to the callback: the hop after the IdP's redirect to it.
  it('/oauth2/sign_in with X-Auth-Request-Redirect: /oauth2/sign_in signs in once and lands on /', async () => {
    const s = await startStack();
    try {
      const b = new TestBrowser();
      const hops = await b.follow(`${s.url}/oauth2/sign_in`, {
        first: { headers: { 'x-auth-request-redirect': '/oauth2/sign_in' } },
        max: 8,
        rewrite: (u) => (u.startsWith(`${s.idp.issuer}/authorize`) ? `${u}&login_hint=alice` : u),
      });
      const trail = hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → ');
      const callback = hops[hops.findIndex((h) => h.location?.includes('/oauth2/callback')) + 1];
      assert.ok(callback, trail);
      assert.equal(callback.location, '/', trail);
      assert.equal(hops.at(-1)!.status, 200, trail);
      assert.equal(s.idp.stats().requests.authorize, 1, `one login, not a loop: ${trail}`);
    } finally {
      await s.close();
    }
  });

  it('rd=/oauth2/start (or any /oauth2/ path, in any case) becomes / as well', async () => {
    const s = await startStack();
    try {
      for (const rd of ['/oauth2/start', '/OAuth2/sign_in?rd=%2F', `${s.url}/oauth2/logout`]) {
        const b = new TestBrowser();
        const hops = await b.follow(`${s.url}/oauth2/start?rd=${encodeURIComponent(rd)}`, {
          max: 8,
          rewrite: (u) => (u.startsWith(`${s.idp.issuer}/authorize`) ? `${u}&login_hint=alice` : u),
        });
        const callback = hops[hops.findIndex((h) => h.location?.includes('/oauth2/callback')) + 1];
        assert.equal(
          callback?.location,
          '/',
          `${rd}: ${hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → ')}`,
        );
      }
    } finally {
      await s.close();
    }
  });
});
