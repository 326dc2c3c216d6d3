import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, type StackConfig, startStack, TEST_SECRET } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/** Routes are reloadable (SIGHUP, `--watch`, Gateway.reload): docs/routes.md, docs/operations.md. */
type Echo = { url: string; headers: Record<string, string | undefined> };

describe('configuration reload: routes', () => {
  let s: Stack;
  let other: EchoUpstream;
  before(async () => {
    other = await startEchoUpstream();
    s = await startStack({
      config: { routes: [{ id: 'app', pathPrefix: '/app' }] } as unknown as StackConfig,
    });
  });
  after(async () => {
    await s.close();
    await other.close();
  });

  const object = (routes: unknown[] | undefined, extra: Record<string, unknown> = {}) => ({
    listen: s.cfg.listen,
    publicUrl: s.cfg.publicUrl,
    ...(routes ? { routes } : { upstream: s.upstream.url }),
    provider: { issuer: s.idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
    session: { secret: TEST_SECRET },
    logging: { level: 'debug' },
    ...extra,
  });

  it('new, changed and removed routes apply to the next request; the session stays', async () => {
    // Started with one route without upstream (forward-auth only): the proxy answers 404 there.
    const bob = new TestBrowser();
    await login(s, bob, { user: 'bob', path: '/app/x' });
    assert.equal((await bob.request(`${s.url}/app/x`, { kind: 'api' })).status, 404);
    const authorizes = s.idp.stats().requests.authorize;

    const plan = s.gw.reload(
      loadConfig({
        env: {},
        object: object([
          { id: 'app', pathPrefix: '/app', upstream: other.url, stripPathPrefix: true },
          { id: 'admin', pathPrefix: '/admin', upstream: s.upstream.url, allowedGroups: ['admins'] },
          { id: 'rest', upstream: s.upstream.url, headers: { templates: { 'X-Who': '{{claims.email}}' } } },
        ]),
      }),
    );
    assert.deepEqual(plan.applied, ['routes']);
    assert.deepEqual(plan.needsRestart, []);
    const app = await bob.request(`${s.url}/app/x?y=1`, { kind: 'api' });
    assert.equal(app.status, 200, 'the changed route reaches its new upstream');
    assert.equal(app.json<Echo>().url, '/x?y=1');
    assert.equal(other.hits, 1);
    assert.equal(
      (await bob.request(`${s.url}/admin/x`, { kind: 'api' })).status,
      403,
      'bob is not in admins',
    );
    const rest = await bob.request(`${s.url}/page`, { kind: 'api' });
    assert.equal(rest.status, 200, 'the new catch-all route');
    // Claims a new template reads are kept from the session's next sign-in or refresh on.
    assert.equal(rest.json<Echo>().headers['x-who'], undefined);
    assert.equal(s.idp.stats().requests.authorize, authorizes, 'no new sign-in');

    // A route removed: its path has no route any more.
    s.gw.reload(
      loadConfig({
        env: {},
        object: object([{ id: 'admin', pathPrefix: '/admin', upstream: s.upstream.url }]),
      }),
    );
    assert.equal((await bob.request(`${s.url}/page`, { kind: 'api' })).status, 404);
    assert.equal((await bob.request(`${s.url}/admin/x`, { kind: 'api' })).status, 200);
  });

  it('switching between upstream and routes needs a restart: the running routes stay', async () => {
    const plan = s.gw.reload(loadConfig({ env: {}, object: object(undefined) }));
    assert.ok(plan.needsRestart.includes('routes'), plan.needsRestart.join(','));
    assert.ok(plan.needsRestart.includes('upstream'));
    assert.equal(
      (await new TestBrowser().request(`${s.url}/page`, { kind: 'api' })).status,
      404,
      'routes kept',
    );
  });

  it('a bad routes list is refused at load, naming the route (the running one keeps serving)', () => {
    assert.throws(
      () =>
        loadConfig({
          env: {},
          object: object([{ upstream: other.url }, { pathPrefix: '/x', upstream: other.url }]),
        }),
      /routes\[1\]: unreachable/,
    );
  });
});
