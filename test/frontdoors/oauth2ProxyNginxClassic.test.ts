import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/stack.js';
import { documentedBlock, loginThrough, startDoorStack, startNginx, substitute } from './helpers.js';

/**
 * The form of oauth2-proxy's nginx example that most existing configurations were copied from
 * (its documentation up to 7.13): `error_page 401 =403 /oauth2/sign_in;`. nginx then answers the
 * browser with the sign-in response *but status 403*, so a 302 from /oauth2/sign_in is a dead
 * end (browsers follow Location only on 3xx). oauth2-proxy answers a sign-in page there.
 */
describe('nginx with the classic oauth2-proxy example (error_page 401 =403 /oauth2/sign_in)', () => {
  it('an unauthenticated navigation gets something a browser can sign in from', async () => {
    const port = await freePort();
    const s = await startDoorStack(port, {});
    const classic = documentedBlock('nginx-oauth2-proxy', 'migrating-from-oauth2-proxy.md').replace(
      'error_page 401 = @oauth2_signin;',
      'error_page 401 =403 /oauth2/sign_in;',
    );
    const site = substitute(classic, {
      'http://127.0.0.1:4180;': `http://127.0.0.1:${s.gwPort};`,
      'http://127.0.0.1:3000/;': `${s.upstream.url}/;`,
      'listen 80;': `listen 127.0.0.1:${port};`,
    });
    const proxy = await startNginx({ port, gatehousePort: s.gwPort, upstreamPort: 0, site });
    try {
      const b = new TestBrowser();
      const first = await b.request(`${proxy.url}/reports`, { kind: 'navigate' });
      assert.equal(first.status, 403, `nginx rewrites the status: ${first.status}`);
      // A browser cannot follow this answer's Location; the page itself must lead on.
      const link = /href="([^"]+)"/.exec(first.body)?.[1]?.replace(/&(?:amp|#38);/g, '&');
      assert.ok(link, `a 403 with no way to sign in: ${JSON.stringify(first.body.slice(0, 300))}`);
      const authorize = new URL(link, proxy.url);
      assert.ok(authorize.href.startsWith(`${s.idp.issuer}/authorize`), authorize.href);
      authorize.searchParams.set('login_hint', 'alice');
      const hops = await loginThrough(b, s.idp, authorize.href, 'alice');
      assert.equal(
        hops.at(-1)!.status,
        200,
        `${link} :: ${hops.map((h) => `${h.status} ${h.location ?? ''} ${h.status >= 400 ? h.body.slice(0, 200) : ''}`).join(' → ')}`,
      );
    } finally {
      await proxy.stop();
      await s.close();
    }
  });
});
