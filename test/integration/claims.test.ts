import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DevIdp } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

type Echo = { headers: Record<string, string> };

/** Logs alice in under `profile` with the given provider settings; returns upstream headers and userinfo. */
async function loginWith(idp: DevIdp, profile: string[], provider: Record<string, unknown> = {}) {
  idp.setProfiles(profile);
  const s: Stack = await startStack({ idpInstance: idp, config: { provider } as never });
  try {
    const b = new TestBrowser();
    const hops = await login(s, b);
    const last = hops.at(-1)!;
    const info = await b.request(`${s.url}/oauth2/userinfo`, { kind: 'api' });
    return {
      last,
      headers: last.status === 200 ? last.json<Echo>().headers : {},
      info,
      cookie: b.cookie(s.url, 'gatehouse'),
    };
  } finally {
    await s.close();
  }
}

describe('identity from every claim shape', () => {
  const idp = useTestIdp();

  it('groups as a JSON array (default)', async () => {
    const r = await loginWith(idp, []);
    assert.equal(r.headers['x-forwarded-groups'], 'admins,dev');
    assert.deepEqual(r.info.json().groups, ['admins', 'dev']);
  });

  it('huge-groups: the cookie stays under 200 bytes and the upstream header is bounded', async () => {
    const r = await loginWith(idp, ['huge-groups']);
    assert.equal(r.last.status, 200);
    assert.ok(r.cookie && r.cookie.length < 200, `cookie is ${r.cookie?.length} bytes`);
    const groups = r.info.json<{ groups: string[] }>().groups;
    assert.ok(groups.length >= 500, `userinfo lists ${groups.length} groups`);
    assert.ok(Buffer.byteLength(r.headers['x-forwarded-groups'] ?? '') <= 8192);
    assert.equal(r.headers['x-forwarded-groups-truncated'], 'true');
  });

  it('groups-string: a CSV string with a quoted value containing a comma', async () => {
    const r = await loginWith(idp, ['groups-string']);
    const groups = r.info.json<{ groups: string[] }>().groups;
    assert.ok(groups.includes('admins'));
    assert.ok(groups.includes('dev'));
    assert.ok(groups.includes('Ops, EMEA'), JSON.stringify(groups));
  });

  it('single-group-string', async () => {
    const r = await loginWith(idp, ['single-group-string']);
    assert.deepEqual(r.info.json().groups, ['admins']);
  });

  it('member-of-groups with groupsClaim: memberOf', async () => {
    const r = await loginWith(idp, ['member-of-groups'], { groupsClaim: 'memberOf' });
    assert.deepEqual(r.info.json().groups, ['admins', 'dev']);
  });

  it('no-groups-claim: no groups, no groups header, login still works', async () => {
    const r = await loginWith(idp, ['no-groups-claim']);
    assert.equal(r.last.status, 200);
    assert.deepEqual(r.info.json().groups, []);
    assert.equal(r.headers['x-forwarded-groups'], undefined);
  });

  it('keycloak-roles: nested realm_access.roles and resource_access.<client>.roles', async () => {
    const r = await loginWith(idp, ['keycloak-roles'], {
      groupsClaim: 'realm_access.roles',
      rolesClaim: 'resource_access.gatehouse.roles',
    });
    const j = r.info.json<{ groups: string[]; roles: string[] }>();
    assert.ok(j.groups.length > 0, 'realm roles read from the nested claim');
    assert.ok(j.roles.length > 0, 'client roles read from the nested claim');
  });

  it('namespaced-claims: Auth0-style https://example.com/groups', async () => {
    const r = await loginWith(idp, ['namespaced-claims'], {
      groupsClaim: 'https://example.com/groups',
      rolesClaim: 'https://example.com/roles',
    });
    const j = r.info.json<{ groups: string[]; roles: string[] }>();
    assert.deepEqual(j.groups, ['admins', 'dev']);
    assert.deepEqual(j.roles, ['admin']);
  });

  it('azure-group-overage: groups fetched from the _claim_sources endpoint', async () => {
    const r = await loginWith(idp, ['azure-group-overage']);
    assert.equal(r.last.status, 200);
    const groups = r.info.json<{ groups: string[] }>().groups;
    assert.ok(groups.includes('admins') && groups.includes('dev'), JSON.stringify(groups));
  });

  it('userinfo-groups: groups only in userinfo, read with useUserinfo', async () => {
    const without = await loginWith(idp, ['userinfo-groups'], { useUserinfo: false });
    assert.deepEqual(without.info.json().groups, []);
    // The default (auto) reads userinfo because the ID token has no groups claim.
    const auto = await loginWith(idp, ['userinfo-groups']);
    assert.deepEqual(auto.info.json().groups, ['admins', 'dev']);
    const withUi = await loginWith(idp, ['userinfo-groups'], { useUserinfo: true });
    assert.deepEqual(withUi.info.json().groups, ['admins', 'dev']);
  });

  it('userinfo-sub-mismatch: the login is refused with a 400 page, no redirect', async () => {
    const r = await loginWith(idp, ['userinfo-sub-mismatch'], { useUserinfo: true });
    assert.equal(r.last.status, 400);
    assert.equal(r.last.location, undefined);
    assert.match(r.last.body, /could not be verified/);
  });
});
