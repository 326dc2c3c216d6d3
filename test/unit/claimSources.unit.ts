import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import {
  claimSourceHosts,
  claimSourceRefusal,
  resolveDistributedClaims,
} from '../../src/oidc/distributedClaims.js';

describe('claim source allow-list', () => {
  const defaults = claimSourceHosts('https://login.example.com/tenant/v2.0', undefined);

  test('default: the issuer host and graph.microsoft.com', () => {
    assert.deepEqual(defaults, ['login.example.com', 'graph.microsoft.com']);
    assert.deepEqual(claimSourceHosts('http://127.0.0.1:9000', undefined), [
      '127.0.0.1:9000',
      'graph.microsoft.com',
    ]);
  });

  test('allowed: https on a listed host at its default port', () => {
    for (const u of [
      'https://graph.microsoft.com/v1.0/me/getMemberObjects',
      'https://LOGIN.example.com/groups/x',
    ]) {
      assert.equal(claimSourceRefusal(new URL(u), defaults), undefined, u);
    }
  });

  test('refused: other hosts, look-alikes, other ports, plain http off loopback, credentials', () => {
    const cases: Array<[string, RegExp]> = [
      ['https://evil.example/groups', /evil\.example is not in provider\.claimSourceHosts/],
      ['https://graph.microsoft.com.evil.example/x', /not in provider\.claimSourceHosts/],
      ['https://graph.microsoft.com:8443/x', /graph\.microsoft\.com:8443 is not in/],
      ['http://graph.microsoft.com/x', /http: is not https/],
      ['https://user:pw@graph.microsoft.com/x', /credentials/],
      ['https://169.254.169.254/latest/meta-data', /not in provider\.claimSourceHosts/],
    ];
    for (const [u, why] of cases) assert.match(claimSourceRefusal(new URL(u), defaults) ?? 'allowed', why, u);
  });

  test('host:port entries match that port only; plain http only on loopback', () => {
    const hosts = claimSourceHosts('https://idp.example.com', ['idp.example.com:8443', '127.0.0.1:7000']);
    assert.equal(claimSourceRefusal(new URL('https://idp.example.com:8443/g'), hosts), undefined);
    assert.match(claimSourceRefusal(new URL('https://idp.example.com/g'), hosts) ?? '', /not in/);
    assert.equal(claimSourceRefusal(new URL('http://127.0.0.1:7000/g'), hosts), undefined);
    assert.match(claimSourceRefusal(new URL('http://127.0.0.1:7001/g'), hosts) ?? '', /not in/);
  });
});

describe('a signed claim-source answer must name the issuer and the user', () => {
  // A loopback source answering a JWT signed with a key of our own; verifyJwt is jose's real
  // verification against that key (the provider's JWKS cache is what the integration tests use).
  // The payload is built once the source listens: its origin is the issuer here.
  async function resolveWith(make: (iss: string) => Record<string, unknown>) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    let issuer = '';
    const server = createServer((_req, res) => {
      void new SignJWT(make(issuer))
        .setProtectedHeader({ alg: 'ES256' })
        .sign(privateKey)
        .then((jwt) => {
          res.writeHead(200, { 'content-type': 'application/jwt' });
          res.end(jwt);
        });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      return await resolveDistributedClaims(
        {
          sub: 'alice',
          _claim_names: { groups: 'src1' },
          _claim_sources: { src1: { endpoint: `${issuer}/groups` } },
        },
        'groups',
        'access-token',
        {
          issuer,
          allowedHosts: undefined,
          timeoutMs: 5000,
          run: (fn) => fn(),
          verifyJwt: async (t) => (await jwtVerify(t, publicKey)).payload,
        },
      );
    } finally {
      server.close();
    }
  }

  test('with iss and sub: the groups are taken', async () => {
    const claims = await resolveWith((iss) => ({ iss, sub: 'alice', groups: ['admins'] }));
    assert.deepEqual(claims.groups, ['admins']);
  });

  for (const [what, make] of [
    ['no sub', (iss: string) => ({ iss, groups: ['admins'] })],
    ['no iss', (_iss: string) => ({ sub: 'alice', groups: ['admins'] })],
    ['another sub', (iss: string) => ({ iss, sub: 'mallory', groups: ['admins'] })],
  ] as const) {
    test(`${what}: refused`, async () => {
      await assert.rejects(resolveWith(make), /another (issuer|subject)/);
    });
  }
});
