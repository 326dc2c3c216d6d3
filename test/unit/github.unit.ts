import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { githubEndpoints, githubScopes, nextLink } from '../../src/oidc/github.js';

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
