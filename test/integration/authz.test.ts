import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

describe('authorization', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      config: {
        authorization: {
          allowedEmailDomains: ['example.com'],
          rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }],
        },
      } as never,
    });
  });
  after(() => s.close());

  it('lets a member of the required group through', async () => {
    const b = new TestBrowser();
    const hops = await login(s, b, { path: '/admin/panel', user: 'alice' });
    assert.equal(hops.at(-1)!.status, 200);
  });

  it('denies a user without the group with a 403 page (no login redirect) and JSON for API calls', async () => {
    const b = new TestBrowser();
    const hops = await login(s, b, { path: '/admin/panel', user: 'bob' });
    const last = hops.at(-1)!;
    assert.equal(last.status, 403);
    assert.equal(last.location, undefined);
    assert.match(last.body, /not a member of a group allowed on \/admin/);
    assert.match(last.body, /Request id/);
    const api = await b.request(`${s.url}/admin/api`, { kind: 'api' });
    assert.equal(api.status, 403);
    assert.equal(api.json().error, 'forbidden');
    // other paths stay open to bob; prefix matching respects segment boundaries
    assert.equal((await b.request(`${s.url}/dashboard`, { kind: 'api' })).status, 200);
    assert.equal((await b.request(`${s.url}/administrator`, { kind: 'api' })).status, 200);
  });

  it('denies an email domain that is not allowed', async () => {
    const b = new TestBrowser();
    const hops = await login(s, b, { path: '/', user: 'carol' });
    assert.equal(hops.at(-1)!.status, 403);
    assert.match(hops.at(-1)!.body, /email domain is not allowed/);
  });
});
