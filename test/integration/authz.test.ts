import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_USERS } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
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

// Changed on purpose (issue 8, item 12): allowedUsers no longer matches preferred_username, and
// an address the provider does not vouch for never grants access (OIDC Core §5.7, nOAuth).
describe('who allowedUsers and allowedEmailDomains match', () => {
  // mallory has (unverified) the address of alice: the nOAuth takeover with multi-tenant Entra.
  const mallory = {
    sub: 'usr_mallory',
    username: 'mallory',
    email: 'alice@example.com',
    name: 'Mallory',
    groups: [],
    roles: [],
  };
  const idp = useTestIdp({ users: [...DEFAULT_USERS, mallory] });

  async function statusOn(authorization: Record<string, unknown>, user: string, profiles: string[] = []) {
    idp.setProfiles(profiles);
    const s = await startStack({ idpInstance: idp, config: { authorization } as never });
    try {
      const hops = await login(s, new TestBrowser(), { path: '/admin/x', user });
      return { status: hops.at(-1)!.status, body: hops.at(-1)!.body, logs: s.logs };
    } finally {
      await s.close();
    }
  }

  it('a username entry no longer matches, with a start-up warning naming the rule', async () => {
    const r = await statusOn({ rules: [{ pathPrefix: '/admin', allowedUsers: ['alice'] }] }, 'alice');
    assert.equal(r.status, 403);
    assert.match(r.body, /not on the list of users allowed on \/admin/);
    const warning = r.logs.find((l) =>
      /authorization\.rules\[0\] \(\/admin\)\.allowedUsers/.test(String(l.msg)),
    );
    assert.ok(warning, 'start-up warning');
    assert.equal(warning.level, 40);
    assert.match(String(warning.msg), /add preferred_username to authorization\.matchUsersBy/);
  });

  it('matchUsersBy with preferred_username matches the username again, without a warning', async () => {
    const r = await statusOn(
      {
        matchUsersBy: ['sub', 'email', 'preferred_username'],
        rules: [{ pathPrefix: '/admin', allowedUsers: ['alice'] }],
      },
      'alice',
    );
    assert.equal(r.status, 200);
    assert.ok(!r.logs.some((l) => /allowedUsers/.test(String(l.msg))));
  });

  it('the subject and a verified e-mail match', async () => {
    const bySub = { rules: [{ pathPrefix: '/admin', allowedUsers: ['usr_alice'] }] };
    assert.equal((await statusOn(bySub, 'alice')).status, 200);
    assert.equal((await statusOn(bySub, 'bob')).status, 403);
    const byEmail = { rules: [{ pathPrefix: '/admin', allowedUsers: ['alice@example.com'] }] };
    assert.equal((await statusOn(byEmail, 'alice')).status, 200);
  });

  it('an address without email_verified grants nothing: not as a user, not by its domain', async () => {
    const byEmail = { rules: [{ pathPrefix: '/admin', allowedUsers: ['alice@example.com'] }] };
    const byDomain = { rules: [{ pathPrefix: '/admin', allowedEmailDomains: ['example.com'] }] };
    for (const rule of [byEmail, byDomain]) {
      const r = await statusOn(rule, 'mallory', ['no-email-verified']);
      assert.equal(r.status, 403, JSON.stringify(rule));
      // the real owner, through a provider that does not vouch for addresses, is refused too
      assert.equal((await statusOn(rule, 'alice', ['no-email-verified'])).status, 403);
    }
    const domainWarning = (await statusOn(byDomain, 'alice')).logs.find((l) =>
      /authorization\.rules\[0\] \(\/admin\)\.allowedEmailDomains: now matches only addresses/.test(
        String(l.msg),
      ),
    );
    assert.ok(domainWarning, 'start-up warning for a generic provider');
    // allowUnverifiedEmail is the explicit escape hatch
    const hatch = { ...byDomain, allowUnverifiedEmail: true };
    assert.equal((await statusOn(hatch, 'mallory', ['no-email-verified'])).status, 200);
  });
});
