import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as client from 'openid-client';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { extractIdentity } from '../../src/identity/identity.js';
import { claimMappingOf } from '../../src/oidc/claimMapping.js';
import { graphUrlFor } from '../../src/oidc/entra/graphUrl.js';
import { tenancyOf } from '../../src/oidc/entra/tenancy.js';
import { TenantGrants } from '../../src/oidc/entra/tenantGrants.js';
import { presetNamed, resolvePreset } from '../../src/oidc/presets/index.js';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';
const TENANT_A = '11111111-2222-4333-8444-555555555555';
const TENANT_B = '99999999-8888-4777-8666-555555555555';

function entraConfig(provider: Record<string, unknown>) {
  return {
    publicUrl: 'http://127.0.0.1:4180',
    upstream: 'http://127.0.0.1:8080',
    provider: { preset: 'entra', clientId: 'gatehouse', clientSecret: 's', ...provider },
    session: { secret: SECRET },
  };
}

function problemsOf(object: Record<string, unknown>): string[] {
  try {
    loadConfig({ object, env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the configuration was accepted');
}

describe('preset entra: configuration', () => {
  for (const tenant of ['organizations', 'common']) {
    test(`a multi-tenant issuer (${tenant}) without provider.entra.tenants refuses to start, naming the key and the fix`, () => {
      const problems = problemsOf(
        entraConfig({ issuer: `https://login.microsoftonline.com/${tenant}/v2.0` }),
      );
      const line = problems.find((p) => p.startsWith('provider.entra.tenants: required'));
      assert.ok(line, JSON.stringify(problems));
      assert.match(line, /GATEHOUSE_PROVIDER_ENTRA_TENANTS/);
      assert.match(line, /any Microsoft tenant/);
    });
  }

  test('with the allow-list it starts; tenants are lower-cased GUIDs; env works', () => {
    const cfg = loadConfig({
      object: entraConfig({ issuer: 'https://login.microsoftonline.com/organizations/v2.0' }),
      env: { GATEHOUSE_PROVIDER_ENTRA_TENANTS: `${TENANT_A.toUpperCase()},${TENANT_B}` },
    });
    assert.deepEqual(cfg.provider.entra?.tenants, [TENANT_A, TENANT_B]);
    assert.equal(cfg.provider.entra?.graphUrl, undefined, 'the Graph of the issuer’s cloud');
    assert.equal(cfg.provider.entra?.groupNames, 'id');
  });

  test('a tenant that is not a GUID, an unknown key, a single-tenant issuer with another tenant listed: refused', () => {
    const issuer = 'https://login.microsoftonline.com/organizations/v2.0';
    assert.ok(
      problemsOf(entraConfig({ issuer, entra: { tenants: ['contoso.com'] } })).some((p) =>
        /provider\.entra\.tenants\.0: must be a tenant id/.test(p),
      ),
    );
    assert.ok(
      problemsOf(entraConfig({ issuer, entra: { tenants: [TENANT_A], tennants: [] } })).some((p) =>
        /unknown key tennants/.test(p),
      ),
    );
    assert.ok(
      problemsOf(
        entraConfig({ issuer, entra: { tenants: [TENANT_A], graphUrl: 'http://graph.internal.example' } }),
      ).some((p) => /provider\.entra\.graphUrl: .* plain http off loopback/.test(p)),
    );
    const single = `https://login.microsoftonline.com/${TENANT_A}/v2.0`;
    assert.ok(
      problemsOf(entraConfig({ issuer: single, entra: { tenants: [TENANT_B] } })).some((p) =>
        /the issuer is the single tenant/.test(p),
      ),
    );
  });

  test('a single-tenant issuer needs nothing but the client; users are matched by sub (tid/oid) only', () => {
    const cfg = loadConfig({
      object: entraConfig({ issuer: `https://login.microsoftonline.com/${TENANT_A}/v2.0` }),
      env: {},
    });
    assert.deepEqual(cfg.authorization.matchUsersBy, ['sub']);
    assert.equal(cfg.provider.entra, undefined);
  });

  test('the profile scope is required (Entra sends oid only with it)', () => {
    const problems = problemsOf(
      entraConfig({
        issuer: `https://login.microsoftonline.com/${TENANT_A}/v2.0`,
        scopes: ['openid', 'email'],
      }),
    );
    assert.ok(problems.some((p) => p.startsWith('provider.scopes: must include "profile"')));
  });

  test('matchesIssuer: the Entra clouds and the v1 issuer, nothing else', () => {
    const p = presetNamed('entra');
    for (const i of [
      'https://login.microsoftonline.com/common/v2.0',
      'https://login.microsoftonline.us/x/v2.0',
      'https://login.chinacloudapi.cn/x/v2.0',
      `https://sts.windows.net/${TENANT_A}/`,
    ])
      assert.equal(p.matchesIssuer?.(new URL(i)), true, i);
    for (const i of ['https://accounts.google.com', 'https://login.microsoftonline.com.evil.example/x'])
      assert.equal(p.matchesIssuer?.(new URL(i)), false, i);
  });

  test('provider.preset: auto picks entra for an Entra issuer, and a multi-tenant one still needs tenants', () => {
    assert.equal(
      resolvePreset('auto', `https://login.microsoftonline.com/${TENANT_A}/v2.0`).preset.name,
      'entra',
    );
    assert.equal(
      resolvePreset('auto', 'https://login.microsoftonline.us/organizations/v2.0').preset.name,
      'entra',
    );
    const { preset: _explicit, ...auto } = entraConfig({
      issuer: 'https://login.microsoftonline.com/common/v2.0',
    }).provider;
    const problems = problemsOf({ ...entraConfig({}), provider: { ...auto, preset: 'auto' } });
    assert.ok(
      problems.some((p) => p.startsWith('provider.entra.tenants: required')),
      JSON.stringify(problems),
    );
  });

  test('graphUrlFor: each cloud’s Graph unless configured', () => {
    assert.equal(
      graphUrlFor(`https://login.microsoftonline.com/${TENANT_A}/v2.0`, undefined),
      'https://graph.microsoft.com',
    );
    assert.equal(
      graphUrlFor(`https://login.microsoftonline.us/${TENANT_A}/v2.0`, undefined),
      'https://graph.microsoft.us',
    );
    assert.equal(
      graphUrlFor(`https://login.chinacloudapi.cn/${TENANT_A}/v2.0`, undefined),
      'https://microsoftgraph.chinacloudapi.cn',
    );
    assert.equal(
      graphUrlFor('http://127.0.0.1:9000', 'http://127.0.0.1:9000/graph'),
      'http://127.0.0.1:9000/graph',
    );
  });

  test('tenancyOf: the template and discovery URL of multi-tenant issuers', () => {
    assert.deepEqual(tenancyOf('https://login.microsoftonline.us/organizations/v2.0/'), {
      kind: 'multi',
      segment: 'organizations',
      template: 'https://login.microsoftonline.us/{tenantid}/v2.0',
      discoveryUrl: 'https://login.microsoftonline.us/organizations/v2.0/.well-known/openid-configuration',
    });
    assert.deepEqual(tenancyOf(`https://login.microsoftonline.com/${TENANT_A}/v2.0`), { kind: 'single' });
  });
});

describe('preset entra: the stable subject', () => {
  const mapping = claimMappingOf({
    preset: 'entra',
    groupsClaim: 'groups',
    rolesClaim: 'roles',
    usernameClaim: 'preferred_username',
    emailClaim: 'email',
  });

  test('is <tid>/<oid>; the provider sub is kept apart', () => {
    const oid = 'AAAAAAAA-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const id = extractIdentity({ sub: 'pairwise-sub', tid: TENANT_A, oid, email: 'a@x.example' }, mapping);
    assert.equal(id.sub, `${TENANT_A}/${oid.toLowerCase()}`);
    assert.equal(id.providerSub, 'pairwise-sub');
    assert.equal(id.user, 'a@x.example');
  });

  test('without oid there is no identity (never a fallback to sub or e-mail)', () => {
    assert.throws(
      () => extractIdentity({ sub: 's', tid: TENANT_A, email: 'a@x.example' }, mapping),
      /no oid/,
    );
  });
});

/**
 * The per-tenant issuer check of TenantGrants against a real HTTP token endpoint answering
 * jose-signed ID tokens: the tid picks the tenant, and iss must then be that tenant's.
 */
describe('TenantGrants: iss must be the template with the token’s own allowed tid', () => {
  let server: Server;
  let origin = '';
  let answer: Record<string, unknown> = {};
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function grants() {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    await exportJWK(publicKey);
    const template = `${origin}/{tenantid}/v2.0`;
    const conf = new client.Configuration(
      { issuer: template, token_endpoint: `${origin}/token`, jwks_uri: `${origin}/jwks` },
      'gatehouse',
      's',
    );
    const g = new TenantGrants(conf, {
      template,
      tenants: [TENANT_A],
      clientId: 'gatehouse',
      clientSecret: 's',
      algorithm: 'RS256',
      clockToleranceSeconds: 30,
      timeoutSeconds: 5,
      fetch,
    });
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ aud: 'gatehouse', sub: 'pairwise', oid: TENANT_B, ...claims })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    return { g, template, sign };
  }

  const tokens = (idToken: string) => ({
    access_token: 'at',
    token_type: 'Bearer',
    expires_in: 300,
    id_token: idToken,
  });

  test('an allowed tid with its own iss is accepted', async () => {
    const { g, sign } = await grants();
    answer = tokens(await sign({ tid: TENANT_A, iss: `${origin}/${TENANT_A}/v2.0` }));
    const res = await g.refresh('rt');
    assert.equal(res.claims()?.tid, TENANT_A);
  });

  test('an allowed tid with another tenant’s iss is refused (oauth4webapi’s iss check)', async () => {
    const { g, sign } = await grants();
    answer = tokens(await sign({ tid: TENANT_A, iss: `${origin}/${TENANT_B}/v2.0` }));
    await assert.rejects(g.refresh('rt'), /unexpected JWT "iss"/);
  });

  test('the template itself as iss is refused', async () => {
    const { g, sign, template } = await grants();
    answer = tokens(await sign({ tid: TENANT_A, iss: template }));
    await assert.rejects(g.refresh('rt'), /unexpected JWT "iss"/);
  });

  test('a tid outside the allow-list is refused before anything else, as forbidden', async () => {
    const { g, sign } = await grants();
    answer = tokens(await sign({ tid: TENANT_B, iss: `${origin}/${TENANT_B}/v2.0` }));
    await assert.rejects(g.refresh('rt'), (err: Error & { status?: number; message: string }) => {
      assert.equal(err.status, 403);
      assert.match(err.message, new RegExp(`tid ${TENANT_B}`));
      return true;
    });
  });
});
