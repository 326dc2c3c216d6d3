import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { forwardAuthSuite } from './forwardAuthSuite.js';
import { startNginx } from './helpers.js';
import { wsgiSmugglingSuite } from './wsgiSuite.js';

// nginx `auth_request` → /oauth2/auth, `error_page 401 403` → /oauth2/forward-auth, /oauth2/* proxied:
// the server block from docs/front-doors.md, run by a real nginx binary.
forwardAuthSuite('nginx', startNginx, (ctx) => {
  it('the auth subrequest location is internal, not reachable from outside', async () => {
    const { proxy } = ctx();
    const r = await new TestBrowser().request(`${proxy.url}/oauth2/auth`, {
      kind: 'api',
      headers: { 'x-original-uri': '/admin', 'x-forwarded-method': 'GET', 'x-forwarded-host': 'x' },
    });
    assert.equal(r.status, 404);
  });

  it('the auth subrequest is answered 202 with the identity, and nginx hands that to the upstream', async () => {
    const { proxy, s } = ctx();
    const b = await ctx().signedIn('bob');
    await b.request(`${proxy.url}/api/me`, { kind: 'api' });
    const auth = s.logs.filter((l) => l.msg === 'request' && l.path === '/oauth2/auth' && l.user === 'bob');
    assert.ok(auth.length > 0, 'the subrequest went to /oauth2/auth');
    assert.equal(auth.at(-1)!.status, 202);
  });
});

// nginx's own defaults (`underscores_in_headers off`, `ignore_invalid_headers on`) in front of a
// Python WSGI application.
wsgiSmugglingSuite('nginx', startNginx);
