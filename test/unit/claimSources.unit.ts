import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimSourceHosts, claimSourceRefusal } from '../../src/oidc/distributedClaims.js';

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
