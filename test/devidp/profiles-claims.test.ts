import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  client,
  getJson,
  login,
  rejectsWithCheck,
  useRelyingParty,
  userinfo,
  useTestIdp,
} from './helpers.js';

describe('claim-shape profiles', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  beforeEach(() => idp.setProfiles([]));

  async function claimsFor(profiles: string[], user = 'alice') {
    idp.setProfiles(profiles);
    const tokens = await login(rp.config, { login_hint: user });
    const id = tokens.claims();
    assert.ok(id);
    const raw = await userinfo(idp, tokens.access_token);
    assert.equal(raw.status, 200);
    return { id, info: raw.json, tokens };
  }

  it('huge-groups: at least 500 long group names and an ID token over 20 KB', async () => {
    const { id, tokens } = await claimsFor(['huge-groups']);
    const groups = id.groups as string[];
    assert.ok(groups.length >= 500);
    assert.ok(groups.includes('admins'));
    assert.ok(groups.includes('group-0001-some-long-team-name'));
    assert.ok((tokens.id_token ?? '').length > 20_000, `ID token is ${tokens.id_token?.length} bytes`);
  });

  it('groups-string: one CSV string with a quoted value containing a comma', async () => {
    const { id, info } = await claimsFor(['groups-string']);
    assert.equal(id.groups, 'admins,dev,"Ops, EMEA"');
    assert.equal(info.groups, 'admins,dev,"Ops, EMEA"');
  });

  it('single-group-string: a plain string, absent for a user without groups', async () => {
    assert.equal((await claimsFor(['single-group-string'])).id.groups, 'admins');
    assert.equal((await claimsFor(['single-group-string'], 'bob')).id.groups, 'dev');
    assert.equal('groups' in (await claimsFor(['single-group-string'], 'carol')).id, false);
  });

  it('member-of-groups: groups under memberOf', async () => {
    const { id, info } = await claimsFor(['member-of-groups']);
    assert.deepEqual(id.memberOf, ['admins', 'dev']);
    assert.equal(id.groups, undefined);
    assert.deepEqual(info.memberOf, ['admins', 'dev']);
  });

  it('no-groups-claim: no groups in the ID token or userinfo', async () => {
    const { id, info } = await claimsFor(['no-groups-claim']);
    assert.equal(id.groups, undefined);
    assert.equal(info.groups, undefined);
    assert.deepEqual(id.roles, ['admin']);
  });

  it('keycloak-roles: realm_access.roles and resource_access.<client>.roles', async () => {
    const { id } = await claimsFor(['keycloak-roles']);
    const realm = id.realm_access as { roles: string[] };
    const resource = id.resource_access as Record<string, { roles: string[] }>;
    assert.ok(realm.roles.includes('admin'));
    assert.ok(realm.roles.includes('offline_access'));
    assert.deepEqual(resource.gatehouse?.roles, ['admin']);
    assert.equal(id.roles, undefined);
  });

  it('namespaced-claims: Auth0-style https://example.com/groups and /roles', async () => {
    const { id, info } = await claimsFor(['namespaced-claims']);
    assert.deepEqual(id['https://example.com/groups'], ['admins', 'dev']);
    assert.deepEqual(id['https://example.com/roles'], ['admin']);
    assert.equal(id.groups, undefined);
    assert.deepEqual(info['https://example.com/groups'], ['admins', 'dev']);
  });

  it('azure-group-overage: _claim_names/_claim_sources to a groups endpoint that needs the token', async () => {
    const { id, tokens } = await claimsFor(['azure-group-overage']);
    assert.equal(id.groups, undefined);
    assert.deepEqual(id._claim_names, { groups: 'src1' });
    const endpoint = (id._claim_sources as Record<string, { endpoint: string }>).src1?.endpoint ?? '';
    assert.equal(endpoint, `${idp.issuer}/groups/usr_alice`);
    const auth = { authorization: `Bearer ${tokens.access_token}` };
    const got = await getJson(endpoint, { headers: auth });
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.groups, ['admins', 'dev']);
    const posted = await getJson(endpoint, { method: 'POST', headers: auth });
    assert.deepEqual(posted.json.value, ['admins', 'dev']);
    assert.equal((await getJson(endpoint)).status, 401);
    assert.equal((await getJson(`${idp.issuer}/groups/usr_bob`, { headers: auth })).status, 403);
  });

  it('userinfo-groups: groups only in userinfo', async () => {
    const { id, info } = await claimsFor(['userinfo-groups']);
    assert.equal(id.groups, undefined);
    assert.deepEqual(info.groups, ['admins', 'dev']);
  });

  it('no-email-verified: email without email_verified, in the ID token and userinfo', async () => {
    const { id, info } = await claimsFor(['no-email-verified']);
    assert.equal(id.email, 'alice@example.com');
    assert.equal('email_verified' in id, false);
    assert.equal('email_verified' in info, false);
  });

  it('userinfo-sub-mismatch: userinfo answers another sub, which openid-client rejects', async () => {
    const { id, info, tokens } = await claimsFor(['userinfo-sub-mismatch']);
    assert.notEqual(info.sub, id.sub);
    await rejectsWithCheck(
      client.fetchUserInfo(rp.config, tokens.access_token, id.sub),
      'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
      /sub/,
    );
  });

  it('profiles combine: groups-string + member-of-groups puts the CSV under memberOf', async () => {
    const { id } = await claimsFor(['groups-string', 'member-of-groups']);
    assert.equal(id.memberOf, 'admins,dev,"Ops, EMEA"');
  });
});
