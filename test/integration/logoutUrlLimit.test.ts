import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { login, startStack } from '../helpers/stack.js';

/**
 * Logout fits any URL limit: with the huge-groups profile (a ~27 KB ID token) the redirect to
 * end_session_endpoint stays ≤ 8 KiB by sending client_id + logout_hint instead of id_token_hint.
 */
describe('logout redirect ≤ 8 KiB whatever the ID token size', () => {
  const idp = useTestIdp();

  it('huge-groups: Location ≤ 8192 bytes, client_id + logout_hint, and the IdP accepts it', async () => {
    idp.setProfiles(['huge-groups']);
    const s = await startStack({ idpInstance: idp });
    try {
      const b = new TestBrowser();
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      const r = await b.request(`${s.url}/oauth2/logout`, { method: 'POST' });
      assert.equal(r.status, 303);
      assert.ok(
        Buffer.byteLength(r.location!) <= 8192,
        `Location is ${Buffer.byteLength(r.location!)} bytes`,
      );
      const loc = new URL(r.location!);
      assert.equal(loc.searchParams.get('id_token_hint'), null);
      assert.equal(loc.searchParams.get('client_id'), 'gatehouse');
      assert.ok(loc.searchParams.get('logout_hint'), 'the sid goes in logout_hint');
      const atIdp = await b.request(r.location!);
      assert.equal(atIdp.status, 302, atIdp.body.slice(0, 200));
      assert.match(atIdp.location!, /\/oauth2\/signed-out/);
    } finally {
      await s.close();
      idp.setProfiles([]);
    }
  });

  it('a normal ID token still goes as id_token_hint', async () => {
    const s = await startStack({ idpInstance: idp });
    try {
      const b = new TestBrowser();
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      const r = await b.request(`${s.url}/oauth2/logout`, { method: 'POST' });
      assert.ok(new URL(r.location!).searchParams.get('id_token_hint'));
    } finally {
      await s.close();
    }
  });
});
