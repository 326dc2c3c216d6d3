import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { assertRefused } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw.js';
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

  it('/oauth2/\\metrics does not reach the metrics: the gateway refuses the backslash (400)', async () => {
    const { proxy, s } = ctx();
    for (const target of [
      '/oauth2/\\metrics',
      '/oauth2/%5cmetrics',
      '/oauth2/%5Cmetrics',
      '/oauth2\\metrics',
    ]) {
      const r = await rawRequest(proxy.url, target, { Accept: 'application/json' });
      assert.ok(
        !(r.status === 200 && /gatehouse_requests_total/.test(r.body)),
        `${target}: metrics served through nginx`,
      );
      assert.doesNotMatch(r.body, /# HELP|# TYPE/, target);
      assertRefused(r, target);
      // the 400 is Gatehouse's own (nginx passed the raw target on, to /oauth2/ or, for
      // /oauth2\metrics, to the auth subrequest): its log line says so
      const line = s.logs.find((l) => l.msg === 'request' && l.reqId === r.headers['x-request-id']);
      assert.equal(line?.status, 400, `${target}: ${JSON.stringify(line)}`);
      assert.match(String(line?.decision), /bad_request$/);
    }
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
