import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ManagedHeaders } from '../../src/http/managedHeaders.js';
import { securityHeadersFor } from '../../src/http/securityHeaders.js';

describe('ManagedHeaders.drops', () => {
  const strict = new ManagedHeaders({ allowUnderscoreHeaders: false, setsAuthorization: false });
  const lax = new ManagedHeaders({ allowUnderscoreHeaders: true, setsAuthorization: true });

  test('ours, in every aliasing spelling, whatever the switch', () => {
    for (const name of [
      'x-forwarded-user',
      'x_forwarded_user',
      'x-forwarded_groups',
      'x.forwarded.email',
      'x~forwarded~preferred~username',
      'x-forwarded-groups-truncated',
      'x_forwarded_access_token',
      'x-forwarded-for',
      'x_forwarded_host',
      'x-forwarded+proto',
      'x_real_ip',
      'x-request-id',
      'x_request_id',
      'x-auth-request-user',
      'x_auth_request_anything',
      'x-gatehouse-whatever',
      'x-gatehouse_whatever',
      // request-target and forwarding overrides: authorized as one URL, served as another
      'x-original-url',
      'x_rewrite_url',
      'x-original-uri',
      'x-forwarded-uri',
      'x-forwarded-method',
      'forwarded',
      'x-forwarded-port',
      'x-forwarded-prefix',
      'x-forwarded-server',
      'x-forwarded-ssl',
      'x-forwarded-scheme',
      'x-forwarded-other',
      'x-original-host',
      'x-host',
    ]) {
      assert.equal(strict.drops(name), true, name);
      assert.equal(lax.drops(name), true, name);
    }
  });

  test('other names: underscores (and other aliasing characters) only when not allowed', () => {
    assert.equal(strict.drops('my_header'), true);
    assert.equal(strict.drops('my.header'), true);
    assert.equal(lax.drops('my_header'), false);
    for (const name of ['accept', 'x-forwardedness', 'x-auth-requester', 'content-type', 'cookie']) {
      assert.equal(strict.drops(name), false, name);
      assert.equal(lax.drops(name), false, name);
    }
  });

  test('Authorization only when Gatehouse sets it', () => {
    assert.equal(strict.drops('authorization'), false);
    assert.equal(lax.drops('authorization'), true);
  });
});

describe('securityHeaders config', () => {
  const base = {
    publicUrl: 'https://app.example.com',
    provider: { issuer: 'http://127.0.0.1:9000', clientId: 'c', clientSecret: 's' },
    session: { secret: 'a-session-secret-that-is-long-enough-0123456789' },
  };

  test('off by default; on: HSTS (https only), nosniff, SAMEORIGIN', () => {
    assert.deepEqual(securityHeadersFor(loadConfig({ object: base, env: {} })), {});
    const on = loadConfig({ object: { ...base, securityHeaders: { enabled: true } }, env: {} });
    assert.deepEqual(securityHeadersFor(on), {
      'strict-transport-security': 'max-age=31536000',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
    });
    assert.equal(
      securityHeadersFor({ ...on, publicUrl: 'http://app.example.com' })['strict-transport-security'],
      undefined,
    );
  });

  test('a malformed HSTS value or frame option is a config error naming the key', () => {
    for (const [key, value] of [
      ['hsts', 'max-age=1\r\nset-cookie: x'],
      ['frameOptions', 'ALLOW-FROM https://x'],
    ] as const) {
      assert.throws(
        () => loadConfig({ object: { ...base, securityHeaders: { enabled: true, [key]: value } }, env: {} }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`securityHeaders.${key}`),
      );
    }
  });
});
