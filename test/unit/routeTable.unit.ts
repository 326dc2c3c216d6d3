import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pathReadings } from '../../src/authz/pathReadings.js';
import { loadConfig } from '../../src/config/load.js';
import { RouteTable } from '../../src/routes/routeTable.js';

function table(routes: unknown[]): RouteTable {
  return new RouteTable(
    loadConfig({
      object: {
        publicUrl: 'https://auth.example.com',
        provider: { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
        // Wildcard route hosts need the shared cookie (routeProblems).
        session: { secret: 'x'.repeat(40), cookieDomain: '.example.com' },
        routes,
      },
      env: {},
    }),
  );
}

function pick(t: RouteTable, host: string, path: string): string {
  const s = t.select(host, pathReadings(path));
  return s.type === 'route' ? s.route.id : s.type;
}

describe('RouteTable.select', () => {
  const t = table([
    { id: 'exact', host: 'grafana.example.com', upstream: 'http://g:1' },
    { id: 'port', host: 'tools.example.com:8443', upstream: 'http://t:1' },
    { id: 'wild-api', host: '*.example.com', pathPrefix: '/api', upstream: 'http://w:1' },
    { id: 'wild', host: '*.example.com', upstream: 'http://w:1' },
    { id: 'any-docs', pathPrefix: '/docs/', upstream: 'http://d:1' },
  ]);

  test('exact hosts, in any case, on any port unless the route names one', () => {
    assert.equal(pick(t, 'grafana.example.com', '/'), 'exact');
    assert.equal(pick(t, 'GRAFANA.Example.COM:443', '/x'), 'exact');
    assert.equal(pick(t, 'tools.example.com:8443', '/'), 'port');
    assert.equal(pick(t, 'tools.example.com:9000', '/'), 'wild', 'another port: the next route that matches');
  });

  test('wildcards cover sub-domains only; order decides between candidates', () => {
    assert.equal(pick(t, 'a.b.example.com', '/api/v1'), 'wild-api');
    assert.equal(pick(t, 'a.example.com', '/API'), 'wild-api');
    assert.equal(pick(t, 'a.example.com', '/apix'), 'wild');
    assert.equal(pick(t, 'example.com', '/'), 'none');
    assert.equal(pick(t, 'evil-example.com', '/'), 'none');
    assert.equal(pick(t, 'example.com.evil.net', '/docs'), 'any-docs');
  });

  test('an unknown host falls to the any-host routes; none matches → none', () => {
    assert.equal(pick(t, 'other.net', '/docs/a'), 'any-docs');
    assert.equal(pick(t, 'other.net', '/doc'), 'none');
    assert.equal(pick(t, '', '/docs'), 'any-docs');
    assert.equal(pick(t, '[::1]:8080', '/docs'), 'any-docs');
  });

  test('readings that fall under different routes are ambiguous', () => {
    const u = table([
      { id: 'public', pathPrefix: '/public', upstream: 'http://p:1' },
      { id: 'rest', upstream: 'http://r:1' },
    ]);
    assert.equal(pick(u, 'x', '/public/..%2Fadmin'), 'ambiguous');
    assert.equal(pick(u, 'x', '/public%2F..%2Fadmin'), 'rest', 'no reading is under /public: rest for all');
    assert.equal(pick(u, 'x', '/public/a%2Fb'), 'public');
  });

  test('the one-route case: every host and path, id default', () => {
    const one = new RouteTable(
      loadConfig({
        object: {
          publicUrl: 'https://auth.example.com',
          upstream: 'http://app:1',
          provider: { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
          session: { secret: 'x'.repeat(40) },
        },
        env: {},
      }),
    );
    assert.equal(pick(one, 'anything', '/x'), 'default');
    assert.equal(one.explicit, false);
  });

  test('redirect hosts: exact names and wildcard suffixes', () => {
    assert.deepEqual(t.redirectHosts().sort(), ['.example.com', 'grafana.example.com', 'tools.example.com']);
  });
});
