import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { GithubIdentity, githubEndpoints, githubScopes, nextLink } from '../../src/oidc/github.js';
import { GatehouseError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';

describe('GitHub provider helpers', () => {
  test('github.com uses api.github.com; any other issuer is GitHub Enterprise Server', () => {
    assert.deepEqual(githubEndpoints('https://github.com'), {
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      api: 'https://api.github.com',
    });
    assert.deepEqual(githubEndpoints('https://ghe.example.com/'), {
      authorization: 'https://ghe.example.com/login/oauth/authorize',
      token: 'https://ghe.example.com/login/oauth/access_token',
      api: 'https://ghe.example.com/api/v3',
    });
  });

  test('OpenID-only scopes are dropped; nothing left means GitHub defaults', () => {
    assert.deepEqual(githubScopes(['openid', 'read:user', 'offline_access']), ['read:user']);
    assert.deepEqual(githubScopes(['openid', 'email', 'profile']), ['read:user', 'user:email', 'read:org']);
  });

  test('pagination follows rel="next" only on the API origin', () => {
    const api = 'https://api.github.com';
    const next = '<https://api.github.com/user/teams?per_page=100&page=2>; rel="next"';
    const last = '<https://api.github.com/user/teams?per_page=100&page=5>; rel="last"';
    assert.equal(nextLink(`${next}, ${last}`, api), 'https://api.github.com/user/teams?per_page=100&page=2');
    assert.equal(nextLink(last, api), undefined, 'no next: the last page');
    assert.equal(nextLink(null, api), undefined);
    assert.equal(
      nextLink('<https://evil.example/steal>; rel="next"', api),
      undefined,
      'a Link elsewhere would send the token there',
    );
    assert.equal(nextLink('<not a url>; rel="next"', api), undefined);
  });
});

describe('GithubIdentity against a stand-in GitHub API (local HTTP server)', () => {
  type Route = (res: ServerResponse) => void;
  async function api(routes: Record<string, Route>) {
    const server = createServer((req, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route) route(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    return { url, close: () => new Promise<void>((r) => server.close(() => r())) };
  }
  const json =
    (body: unknown, status = 200, headers: Record<string, string> = {}) =>
    (res: ServerResponse) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
  const user = json({ id: 42, login: '583231', name: null });
  const identity = (url: string) =>
    new GithubIdentity(url, 'github.example', {
      timeoutMs: 2000,
      run: (fn) => fn(),
      logger: createLogger('silent'),
    });

  test('the subject is <host>/<id>: an all-digit login can never pass for it', async () => {
    const s = await api({
      '/user': user,
      '/user/emails': json([]),
      '/user/orgs': json([]),
      '/user/teams': json([]),
    });
    try {
      const c = await identity(s.url).claims('t');
      assert.equal(c.sub, 'github.example/42');
      assert.equal(c.preferred_username, '583231');
      assert.deepEqual(c.groups, []);
    } finally {
      await s.close();
    }
  });

  test('a rate-limited 403 is an outage (502), never "no teams"; a scope 403 drops only that list', async () => {
    const limited = json({ message: 'API rate limit exceeded' }, 403, { 'x-ratelimit-remaining': '0' });
    const s = await api({
      '/user': user,
      '/user/emails': json([]),
      '/user/orgs': json([]),
      '/user/teams': limited,
    });
    try {
      await assert.rejects(
        identity(s.url).claims('t'),
        (err: unknown) => err instanceof GatehouseError && err.code === 'provider_unavailable',
      );
    } finally {
      await s.close();
    }
    const scope = json({ message: 'Resource not accessible' }, 403);
    const t = await api({
      '/user': user,
      '/user/emails': json([]),
      '/user/orgs': scope,
      '/user/teams': scope,
    });
    try {
      const c = await identity(t.url).claims('t');
      assert.equal(c.groups, undefined, 'no read:org: no groups claim at all');
    } finally {
      await t.close();
    }
  });
});
