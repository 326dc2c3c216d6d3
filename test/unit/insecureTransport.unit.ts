import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  endpointDowngrades,
  isLoopbackHostname,
  usesInsecureIssuer,
} from '../../src/oidc/insecureTransport.js';

const host = (u: string) => new URL(u).hostname;

describe('isLoopbackHostname', () => {
  test('127.0.0.0/8, ::1, IPv4-mapped loopback and localhost are loopback', () => {
    for (const u of [
      'http://127.0.0.1',
      'http://127.255.0.9',
      'http://127.1',
      'http://0x7f.0.0.1',
      'http://[::1]',
      'http://[::ffff:127.0.0.1]',
      'http://localhost',
      'http://LOCALHOST.',
    ]) {
      assert.ok(isLoopbackHostname(host(u)), u);
    }
  });
  test('anything else is not', () => {
    for (const u of [
      'http://128.0.0.1',
      'http://10.0.0.1',
      'http://[::2]',
      'http://[::ffff:10.0.0.1]',
      'http://localhost.example.com',
      // Node resolves subdomains of localhost through DNS (and the search domain): not loopback.
      'http://idp.localhost',
      'http://127.0.0.1.nip.io',
      'http://0.0.0.0',
    ]) {
      assert.ok(!isLoopbackHostname(host(u)), u);
    }
  });
});

describe('usesInsecureIssuer (the start-up warning)', () => {
  test('only an http issuer off loopback that allowInsecureIssuer lets through', () => {
    assert.equal(usesInsecureIssuer('http://idp.example.com', true), true);
    assert.equal(usesInsecureIssuer('http://127.0.0.1:9000', true), false);
    assert.equal(usesInsecureIssuer('https://idp.example.com', true), false);
    assert.equal(usesInsecureIssuer('http://idp.example.com', false), false);
  });
});

describe('endpointDowngrades', () => {
  const httpsMeta = {
    issuer: 'https://idp.example.com',
    authorization_endpoint: 'https://idp.example.com/authorize',
    token_endpoint: 'https://idp.example.com/token',
    jwks_uri: 'https://idp.example.com/jwks',
    scopes_supported: ['openid'],
    service_documentation: 'http://docs.example.com',
  };
  test('an https issuer with https endpoints is fine (documentation links are not endpoints)', () => {
    assert.deepEqual(endpointDowngrades('https://idp.example.com', httpsMeta, false), []);
  });
  test('an https issuer naming an http endpoint is a downgrade, even with allowInsecureIssuer', () => {
    for (const key of ['jwks_uri', 'token_endpoint', 'userinfo_endpoint', 'end_session_endpoint']) {
      const meta = { ...httpsMeta, [key]: 'http://127.0.0.1:9/x' };
      for (const allow of [false, true]) {
        const problems = endpointDowngrades('https://idp.example.com', meta, allow);
        assert.equal(problems.length, 1, key);
        assert.match(problems[0]!, new RegExp(`^${key} http://127\\.0\\.0\\.1:9 is not https`));
      }
    }
    const mtls = { ...httpsMeta, mtls_endpoint_aliases: { token_endpoint: 'http://idp.example.com/t' } };
    assert.match(endpointDowngrades('https://idp.example.com', mtls, false)[0]!, /mtls_endpoint_aliases/);
  });
  test('a loopback http issuer may use loopback http endpoints, not remote http ones', () => {
    const meta = { jwks_uri: 'http://127.0.0.1:9000/jwks', token_endpoint: 'http://localhost:9000/token' };
    assert.deepEqual(endpointDowngrades('http://127.0.0.1:9000', meta, false), []);
    const remote = { ...meta, token_endpoint: 'http://idp.example.com/token' };
    assert.match(
      endpointDowngrades('http://127.0.0.1:9000', remote, false)[0]!,
      /token_endpoint .* off loopback/,
    );
    assert.deepEqual(endpointDowngrades('http://127.0.0.1:9000', remote, true), []);
  });
});
