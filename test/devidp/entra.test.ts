import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ENTRA_HOME_TENANT, entraGroupId, entraObjectId } from '../../src/devidp/index.js';
import { claimsOf, getJson, login, useRelyingParty, useTestIdp } from './helpers.js';

const GRAPH = '/graph/v1.0/me/transitiveMemberOf';

describe('entra profile', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  before(() => idp.setProfiles(['entra']));

  it('ID tokens carry Entra v2.0 shapes: oid, tid, ver, UPN, email without email_verified, group ids, app roles', async () => {
    idp.setProfiles(['entra']);
    const c = claimsOf((await login(rp.config)).id_token);
    assert.equal(c.oid, entraObjectId('usr_alice'));
    assert.match(String(c.oid), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(c.tid, ENTRA_HOME_TENANT);
    assert.equal(c.ver, '2.0');
    assert.equal(c.preferred_username, 'alice');
    assert.equal(c.email, 'alice@example.com');
    assert.equal('email_verified' in c, false);
    assert.deepEqual(c.groups, ['admins', 'dev'].map(entraGroupId));
    assert.deepEqual(c.roles, ['admin']);
  });

  it('Graph transitiveMemberOf: the bearer access token is required, groups come with ids and names, counted', async () => {
    idp.setProfiles(['entra']);
    idp.reset();
    const none = await getJson(`${idp.issuer}${GRAPH}`);
    assert.equal(none.status, 401);
    const t = await login(rp.config);
    const r = await getJson(`${idp.issuer}${GRAPH}?$select=id,displayName`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    assert.equal(r.status, 200);
    const value = r.json.value as Array<Record<string, unknown>>;
    assert.deepEqual(
      value.filter((v) => v['@odata.type'] === '#microsoft.graph.group').map((v) => [v.id, v.displayName]),
      [
        [entraGroupId('admins'), 'admins'],
        [entraGroupId('dev'), 'dev'],
      ],
    );
    assert.ok(
      value.some((v) => v['@odata.type'] === '#microsoft.graph.directoryRole'),
      'a role, as Graph lists them',
    );
    assert.equal(r.json['@odata.nextLink'], undefined, 'one page');
    assert.equal(idp.stats().requests.graph, 2);
  });

  it('pages with @odata.nextLink (100 a page) under huge-groups; graph-5xx answers 503', async () => {
    idp.setProfiles(['entra', 'huge-groups']);
    const t = await login(rp.config);
    let next: string | undefined = `${idp.issuer}${GRAPH}`;
    let pages = 0;
    let count = 0;
    while (next) {
      const r = await getJson(next, { headers: { authorization: `Bearer ${t.access_token}` } });
      assert.equal(r.status, 200);
      pages++;
      count += (r.json.value as unknown[]).length;
      next = r.json['@odata.nextLink'] as string | undefined;
    }
    assert.equal(pages, 7);
    assert.equal(count, 603);
    idp.setProfiles(['entra', 'graph-5xx']);
    const down = await getJson(`${idp.issuer}${GRAPH}`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    assert.equal(down.status, 503);
  });

  it('entra-multi-tenant: /organizations/v2.0 discovery names the {tenantid} template; iss is the user’s tenant', async () => {
    idp.setProfiles(['entra']);
    assert.equal(
      (await getJson(`${idp.issuer}/organizations/v2.0/.well-known/openid-configuration`)).status,
      404,
    );
    idp.setProfiles(['entra', 'entra-multi-tenant']);
    for (const tenant of ['organizations', 'common']) {
      const d = await getJson(`${idp.issuer}/${tenant}/v2.0/.well-known/openid-configuration`);
      assert.equal(d.json.issuer, `${idp.issuer}/{tenantid}/v2.0`);
      assert.equal(d.json.authorization_response_iss_parameter_supported, false);
    }
  });
});
