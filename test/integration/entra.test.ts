import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  DEFAULT_USERS,
  type DevIdp,
  ENTRA_HOME_TENANT,
  entraGroupId,
  entraObjectId,
} from '../../src/devidp/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestIdp, useTestIdp } from '../helpers/devIdp.js';
import { login, type Stack, type StackConfig, startStack } from '../helpers/stack.js';

type Echo = { headers: Record<string, string> };
type Info = { sub: string; user: string; email?: string; groups: string[]; roles: string[] };

/** preset entra and, for overage, Graph at the dev IdP: all a user of the dev IdP configures. */
function entraConfig(idp: DevIdp, extra: Record<string, unknown> = {}): StackConfig {
  return {
    ...extra,
    provider: {
      preset: 'entra',
      entra: { graphUrl: `${idp.issuer}/graph` },
      ...((extra.provider as Record<string, unknown>) ?? {}),
    },
  } as StackConfig;
}

async function loginThrough(s: Stack, user = 'alice', path = '/') {
  const b = new TestBrowser();
  const hops = await login(s, b, { path, user });
  const last = hops.at(-1)!;
  const info = await b.request(`${s.url}/oauth2/userinfo`, { kind: 'api' });
  return {
    hops,
    last,
    headers: last.status === 200 ? last.json<Echo>().headers : {},
    info: info.status === 200 ? info.json<Info>() : undefined,
  };
}

const ALICE_SUBJECT = `${ENTRA_HOME_TENANT}/${entraObjectId('usr_alice')}`;
const ALICE_GROUP_IDS = ['admins', 'dev'].map(entraGroupId);

describe('preset entra through the gateway, against the dev IdP profile entra', () => {
  const idp = useTestIdp({ profiles: ['entra'] });

  it('logs in with preset entra alone: user, e-mail, group ids and app roles reach the upstream; the subject is <tid>/<oid>', async () => {
    idp.reset();
    const s = await startStack({
      idpInstance: idp,
      config: entraConfig(idp, {
        authorization: {
          rules: [
            { pathPrefix: '/admin', allowedGroups: [entraGroupId('admins')] },
            { pathPrefix: '/me', allowedUsers: [ALICE_SUBJECT] },
          ],
        },
      }),
    });
    try {
      const r = await loginThrough(s, 'alice', '/admin/x');
      assert.equal(r.last.status, 200, 'the group rule on an object id lets alice in');
      assert.equal(r.headers['x-forwarded-user'], 'alice', 'preferred_username (the UPN)');
      assert.equal(r.headers['x-forwarded-email'], 'alice@example.com');
      assert.equal(r.headers['x-forwarded-groups'], ALICE_GROUP_IDS.join(','));
      assert.equal(r.info?.sub, ALICE_SUBJECT, 'tid/oid, never the pairwise sub or the e-mail');
      assert.deepEqual(r.info?.roles, ['admin'], 'app roles from the roles claim');
      assert.equal(idp.stats().requests.graph, 0, 'no overage, no Graph call');
      const bob = await loginThrough(s, 'bob', '/me');
      assert.equal(bob.last.status, 403, 'allowedUsers names alice’s tid/oid only');
    } finally {
      await s.close();
    }
  });

  it('does not match users by their unverified e-mail (matchUsersBy defaults to sub)', async () => {
    const s = await startStack({
      idpInstance: idp,
      config: entraConfig(idp, {
        authorization: { rules: [{ pathPrefix: '/', allowedUsers: ['alice@example.com'] }] },
      }),
    });
    try {
      assert.deepEqual(s.cfg.authorization.matchUsersBy, ['sub']);
      const r = await loginThrough(s);
      assert.equal(r.last.status, 403, 'Entra sends email without email_verified: an address is no identity');
    } finally {
      await s.close();
    }
  });
});

/** A loopback server standing for the URL Entra writes in `_claim_sources`: counts every request. */
async function claimSourceTrap() {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/users/{sub}/getMemberObjects`;
  return {
    url,
    hits: () => hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('Entra group overage: groups from Microsoft Graph, never from the URL in the token', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function overageIdp(profiles: string[] = []) {
    const trap = await claimSourceTrap();
    const idp = await startTestIdp({
      profiles: ['entra', 'azure-group-overage', ...profiles],
      claimSourceEndpoint: trap.url,
    });
    cleanups.push(trap.close, () => idp.stop());
    return { idp, trap };
  }

  it('reads the groups from Graph with the access token: once per login, the token’s URL never', async () => {
    const { idp, trap } = await overageIdp();
    const s = await startStack({
      idpInstance: idp,
      config: entraConfig(idp, {
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: [entraGroupId('admins')] }] },
      }),
    });
    try {
      idp.reset();
      const r = await loginThrough(s, 'alice', '/admin/x');
      assert.equal(r.last.status, 200);
      assert.equal(
        r.headers['x-forwarded-groups'],
        ALICE_GROUP_IDS.join(','),
        'groups only, no directory role',
      );
      assert.equal(idp.stats().requests.graph, 1, 'one Graph page for two groups');
      assert.equal(trap.hits(), 0, 'the _claim_sources endpoint is never asked');
      await loginThrough(s, 'bob');
      assert.equal(idp.stats().requests.graph, 2, 'once per login');
    } finally {
      await s.close();
    }
  });

  it('follows @odata.nextLink: 600 extra groups arrive over 7 pages', async () => {
    const { idp } = await overageIdp(['huge-groups']);
    const s = await startStack({ idpInstance: idp, config: entraConfig(idp) });
    try {
      idp.reset();
      const r = await loginThrough(s);
      assert.equal(r.last.status, 200);
      assert.equal(r.info?.groups.length, 602);
      assert.deepEqual(r.info?.groups.slice(0, 2), ALICE_GROUP_IDS);
      assert.equal(idp.stats().requests.graph, 7, '603 memberships at 100 a page');
    } finally {
      await s.close();
    }
  });

  it('reads Graph again at refresh; with Graph down at refresh the session keeps its groups', async () => {
    const { idp } = await overageIdp();
    const clock = new ManualClock();
    const s = await startStack({ idpInstance: idp, clock, config: entraConfig(idp) });
    try {
      const b = new TestBrowser();
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      idp.reset();
      clock.advance(301_000); // past the dev IdP's 300 s access tokens
      const renewed = await b.request(`${s.url}/after-refresh`);
      assert.equal(renewed.status, 200);
      assert.equal(idp.stats().grants.refresh_token, 1);
      assert.equal(idp.stats().requests.graph, 1, 'the refreshed groups come from Graph too');
      idp.setProfiles(['entra', 'azure-group-overage', 'graph-5xx']);
      clock.advance(301_000);
      const kept = await b.request(`${s.url}/graph-down`);
      assert.equal(kept.status, 200, 'a Graph outage at refresh logs nobody out');
      assert.equal(idp.stats().grants.refresh_token, 2);
      assert.equal(kept.json<Echo>().headers['x-forwarded-groups'], ALICE_GROUP_IDS.join(','));
      assert.ok(s.logs.some((l) => /session keeps its previous groups/.test(String(l.msg))));
    } finally {
      await s.close();
    }
  });

  it('groupNames: displayName forwards the names Graph answers', async () => {
    const { idp } = await overageIdp();
    const s = await startStack({
      idpInstance: idp,
      config: entraConfig(idp, {
        provider: { entra: { graphUrl: `${idp.issuer}/graph`, groupNames: 'displayName' } },
      }),
    });
    try {
      const r = await loginThrough(s);
      assert.equal(r.headers['x-forwarded-groups'], 'admins,dev');
    } finally {
      await s.close();
    }
  });

  it('Graph down at login: a 502 error page that says why, and no redirect loop', async () => {
    const { idp, trap } = await overageIdp(['graph-5xx']);
    const s = await startStack({ idpInstance: idp, config: entraConfig(idp) });
    try {
      idp.reset();
      const r = await loginThrough(s);
      assert.equal(r.last.status, 502);
      assert.match(r.last.body, /Microsoft Graph/);
      assert.match(r.last.body, /HTTP 503/);
      assert.equal(r.info, undefined, 'no session');
      assert.equal(idp.stats().requests.authorize, 1, 'the browser was not sent back to sign in');
      assert.equal(trap.hits(), 0, 'no fallback to the token’s URL');
      const line = s.logs.find((l) => /group overage: Microsoft Graph/.test(String(l.msg)));
      assert.ok(line, 'the reason is logged');
      assert.ok(!s.logs.some((l) => /Bearer|eyJ/.test(JSON.stringify(l))), 'no token in any log line');
    } finally {
      await s.close();
    }
  });
});

describe('multi-tenant Entra (organizations): only the tenants allowed', () => {
  const OTHER_TENANT = '0c2f4e6a-8b1d-4f3a-9e5c-7d6b5a4c3b2a';
  const users = DEFAULT_USERS.map((u) => ({
    ...u,
    groups: [...u.groups],
    roles: [...u.roles],
    ...(u.username === 'carol' ? { tid: OTHER_TENANT } : {}),
  }));
  const idp = useTestIdp({ profiles: ['entra', 'entra-multi-tenant'], users });

  async function stack(tenants: string[]) {
    return startStack({
      idpInstance: idp,
      config: entraConfig(idp, {
        provider: { issuer: `${idp.issuer}/organizations/v2.0`, entra: { tenants } },
      }),
    });
  }

  it('a user of an allowed tenant signs in: iss is checked against the template with their tid', async () => {
    const s = await stack([ENTRA_HOME_TENANT]);
    try {
      const r = await loginThrough(s);
      assert.equal(r.last.status, 200);
      assert.equal(r.info?.sub, ALICE_SUBJECT);
    } finally {
      await s.close();
    }
  });

  it('refreshes a multi-tenant session (the refreshed ID token is checked against the user’s tenant)', async () => {
    const clock = new ManualClock();
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: entraConfig(idp, {
        provider: { issuer: `${idp.issuer}/organizations/v2.0`, entra: { tenants: [ENTRA_HOME_TENANT] } },
      }),
    });
    try {
      const b = new TestBrowser();
      assert.equal((await login(s, b)).at(-1)!.status, 200);
      idp.reset();
      clock.advance(301_000);
      const r = await b.request(`${s.url}/after-refresh`);
      assert.equal(r.status, 200);
      assert.equal(idp.stats().grants.refresh_token, 1);
      assert.ok(
        !s.logs.some((l) => /identity could not be re-read/.test(String(l.msg))),
        'the new ID token was accepted',
      );
    } finally {
      await s.close();
    }
  });

  it('a user of another tenant is refused with a 403 page that says so', async () => {
    const s = await stack([ENTRA_HOME_TENANT]);
    try {
      const r = await loginThrough(s, 'carol');
      assert.equal(r.last.status, 403);
      assert.match(r.last.body, /organization/i);
      assert.equal(r.info, undefined, 'no session');
      assert.ok(s.logs.some((l) => new RegExp(`tid ${OTHER_TENANT}`).test(JSON.stringify(l))));
    } finally {
      await s.close();
    }
  });

  it('the allow-list admits the other tenant once it is listed', async () => {
    const s = await stack([ENTRA_HOME_TENANT, OTHER_TENANT]);
    try {
      const r = await loginThrough(s, 'carol');
      assert.equal(r.last.status, 200);
      assert.equal(r.info?.sub, `${OTHER_TENANT}/${entraObjectId('usr_carol')}`);
    } finally {
      await s.close();
    }
  });
});
