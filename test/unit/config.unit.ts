import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, envNameFor, loadConfig } from '../../src/config/load.js';
import { planReload } from '../../src/config/reload.js';
import { presetNamed } from '../../src/oidc/presets/index.js';
import { makeTestCa, type TestCa } from '../helpers/testCa.js';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

function base(): Record<string, unknown> {
  return {
    publicUrl: 'http://127.0.0.1:4180',
    upstream: 'http://127.0.0.1:8080',
    provider: {
      issuer: 'http://127.0.0.1:9000',
      clientId: 'gatehouse',
      clientSecret: 'gatehouse-dev-secret',
    },
    session: { secret: SECRET },
  };
}

/** Runs loadConfig expecting a ConfigError; returns its problem lines. */
function problemsOf(opts: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    for (const p of err.problems) assert.ok(err.message.includes(p), 'message lists every problem');
    return err.problems;
  }
  assert.fail('loadConfig accepted an invalid configuration');
}

function oneProblem(opts: Parameters<typeof loadConfig>[0], ...needles: string[]): string {
  const problems = problemsOf(opts);
  const hit = problems.find((p) => needles.every((n) => p.includes(n)));
  assert.ok(hit, `no problem line mentions ${needles.join(' + ')}: ${JSON.stringify(problems)}`);
  return hit;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('envNameFor', () => {
  test('maps dotted camelCase paths to GATEHOUSE_ env names', () => {
    assert.equal(envNameFor('provider.clientSecret'), 'GATEHOUSE_PROVIDER_CLIENT_SECRET');
    assert.equal(envNameFor('session.secret'), 'GATEHOUSE_SESSION_SECRET');
    assert.equal(envNameFor('publicUrl'), 'GATEHOUSE_PUBLIC_URL');
    assert.equal(envNameFor('session.cacheTtlMs'), 'GATEHOUSE_SESSION_CACHE_TTL_MS');
    assert.equal(envNameFor('provider.idTokenSigningAlgs'), 'GATEHOUSE_PROVIDER_ID_TOKEN_SIGNING_ALGS');
  });
});

describe('loadConfig: defaults', () => {
  test('a minimal configuration gets every documented default', () => {
    const cfg = loadConfig({ object: base(), env: {} });
    assert.equal(cfg.listen, '127.0.0.1:4180');
    assert.deepEqual(cfg.provider.scopes, ['openid', 'email', 'profile', 'offline_access']);
    assert.equal(cfg.provider.preset, 'generic');
    assert.equal(cfg.provider.groupsClaim, 'groups');
    assert.equal(cfg.provider.rolesClaim, 'roles');
    assert.equal(cfg.provider.usernameClaim, 'preferred_username');
    assert.equal(cfg.provider.emailClaim, 'email');
    assert.equal(cfg.provider.useUserinfo, 'auto');
    assert.equal(cfg.provider.timeoutSeconds, 30);
    assert.equal(cfg.session.store, 'memory');
    assert.equal(cfg.session.cookieName, 'gatehouse');
    assert.equal(cfg.session.maxAgeSeconds, 86400);
    assert.equal(cfg.session.idleTimeoutSeconds, 0);
    assert.deepEqual(cfg.session.previousSecrets, []);
    assert.equal(cfg.refresh.graceSeconds, 60);
    assert.equal(cfg.refresh.graceMaxFraction, 0.25);
    assert.equal(cfg.refresh.timeoutSeconds, 10);
    assert.equal(cfg.refresh.outageGraceSeconds, 300);
    assert.equal(cfg.refresh.maxRefreshTokenAgeSeconds, 0);
    assert.equal(cfg.refresh.lockLeaseSeconds, undefined);
    assert.deepEqual(cfg.authorization, {
      allowedEmailDomains: [],
      allowedUsers: [],
      allowedGroups: [],
      allowedRoles: [],
      allowUnverifiedEmail: false,
      matchUsersBy: ['sub', 'email'],
      rules: [],
    });
    assert.equal(cfg.headers.passAccessToken, false);
    assert.equal(cfg.headers.passAuthorizationHeader, false);
    assert.equal(cfg.headers.maxGroupsHeaderBytes, 8192);
    assert.deepEqual(cfg.skipAuth, []);
    assert.equal(cfg.logging.level, 'info');
  });

  test('does not mutate the object it was given', () => {
    const obj = base();
    const snapshot = structuredClone(obj);
    loadConfig({ object: obj, env: { GATEHOUSE_PROVIDER_CLIENT_ID: 'from-env' } });
    assert.deepEqual(obj, snapshot);
  });
});

describe('loadConfig: missing and invalid keys', () => {
  test('a missing required key names the key and its environment variable', () => {
    const obj = base();
    delete (obj.provider as Record<string, unknown>).clientId;
    const line = oneProblem({ object: obj, env: {} }, 'provider.clientId', 'GATEHOUSE_PROVIDER_CLIENT_ID');
    assert.match(line, /required/);
  });

  test('a missing publicUrl names GATEHOUSE_PUBLIC_URL', () => {
    const obj = base();
    delete obj.publicUrl;
    oneProblem({ object: obj, env: {} }, 'publicUrl', 'GATEHOUSE_PUBLIC_URL');
  });

  test('every missing key is reported at once', () => {
    const obj = base();
    delete (obj.provider as Record<string, unknown>).clientId;
    delete (obj.provider as Record<string, unknown>).clientSecret;
    const problems = problemsOf({ object: obj, env: {} });
    assert.ok(problems.some((p) => p.includes('provider.clientId')));
    assert.ok(problems.some((p) => p.includes('provider.clientSecret')));
  });

  test('an unknown key inside a section is reported with its name', () => {
    const obj = base();
    (obj.provider as Record<string, unknown>).clientSecrt = 'typo';
    oneProblem({ object: obj, env: {} }, 'provider', 'clientSecrt', 'unknown key');
  });

  test('an unknown top-level key is reported (a typo must not silently drop a section)', () => {
    const obj = { ...base(), authorisation: { allowedGroups: ['admins'] }, skipauth: ['/x'] };
    const line = oneProblem({ object: obj, env: {} }, 'authorisation', 'unknown key');
    assert.match(line, /skipauth/);
  });

  test('a missing section names the keys to set in it and their env vars', () => {
    const noProvider = base();
    delete noProvider.provider;
    const line = oneProblem({ object: noProvider, env: {} }, 'provider', 'required');
    // clientId/clientSecret are not listed: provider.registration may stand in for them (then
    // the next run names them, see test/interop/registration.test.ts).
    for (const key of ['provider.issuer']) assert.ok(line.includes(key), key);
    for (const env of ['GATEHOUSE_PROVIDER_ISSUER']) {
      assert.ok(line.includes(env), env);
    }
    assert.ok(!line.includes('provider.scopes'), 'keys with defaults are not listed');
    const noSession = base();
    delete noSession.session;
    oneProblem({ object: noSession, env: {} }, 'session', 'session.secret', 'GATEHOUSE_SESSION_SECRET');
  });

  test('an unknown key inside a path rule is reported', () => {
    const obj = { ...base(), authorization: { rules: [{ pathPrefix: '/admin', allowedGroup: ['x'] }] } };
    oneProblem({ object: obj, env: {} }, 'allowedGroup', 'unknown key');
  });

  test('a short session.secret is refused with a message mentioning 32', () => {
    const obj = { ...base(), session: { secret: 'too-short' } };
    oneProblem({ object: obj, env: {} }, 'session.secret', '32');
  });

  test('a short previous secret is refused too', () => {
    const obj = { ...base(), session: { secret: SECRET, previousSecrets: ['short'] } };
    oneProblem({ object: obj, env: {} }, 'session.previousSecrets');
  });

  test('lockLeaseSeconds not longer than provider.timeoutSeconds is refused', () => {
    const equal = { ...base(), refresh: { lockLeaseSeconds: 30 } };
    oneProblem({ object: equal, env: {} }, 'refresh.lockLeaseSeconds', 'provider.timeoutSeconds');
    const shorter = { ...base(), refresh: { lockLeaseSeconds: 5 } };
    oneProblem({ object: shorter, env: {} }, 'refresh.lockLeaseSeconds');
    const ok = loadConfig({ object: { ...base(), refresh: { lockLeaseSeconds: 31 } }, env: {} });
    assert.equal(ok.refresh.lockLeaseSeconds, 31);
  });

  test('lockLeaseSeconds is compared with a configured provider.timeoutSeconds', () => {
    const obj = base();
    (obj.provider as Record<string, unknown>).timeoutSeconds = 5;
    const ok = loadConfig({ object: { ...obj, refresh: { lockLeaseSeconds: 6 } }, env: {} });
    assert.equal(ok.refresh.lockLeaseSeconds, 6);
    oneProblem(
      { object: { ...obj, refresh: { lockLeaseSeconds: 5 } }, env: {} },
      'refresh.lockLeaseSeconds',
      '(5)',
    );
  });

  test('scopes without openid are refused', () => {
    const obj = base();
    (obj.provider as Record<string, unknown>).scopes = ['email'];
    oneProblem({ object: obj, env: {} }, 'provider.scopes', 'openid');
  });

  test('preset github needs no openid scope; its scopes are GitHub scopes', () => {
    const githubScopesFor = (scopes: string[]) =>
      presetNamed('github').offlineAccess({ scopes, requestOfflineAccess: true, scopesSupported: undefined })
        .scopes;
    const obj = base();
    Object.assign(obj.provider as Record<string, unknown>, {
      preset: 'github',
      issuer: 'https://github.com',
      scopes: ['read:user', 'user:email'],
    });
    const cfg = loadConfig({ object: obj, env: {} });
    assert.equal(cfg.provider.preset, 'github');
    assert.deepEqual(githubScopesFor(cfg.provider.scopes), ['read:user', 'user:email']);
    // The OpenID default scopes become GitHub's defaults (identity, emails, organisations and teams).
    const github = (extra: Record<string, unknown>) => {
      const o = base();
      Object.assign(o.provider as Record<string, unknown>, { preset: 'github', ...extra });
      return o;
    };
    oneProblem({ object: github({ groupsClaim: 'teams' }), env: {} }, 'provider.groupsClaim', 'remove it');
    oneProblem({ object: github({ useUserinfo: true }), env: {} }, 'provider.useUserinfo', 'remove it');
    const defaults = loadConfig({ object: base(), env: {} }).provider.scopes;
    assert.deepEqual(githubScopesFor(defaults), ['read:user', 'user:email', 'read:org']);
  });

  test('publicUrl must be an origin without a path', () => {
    oneProblem({ object: { ...base(), publicUrl: 'https://auth.example.com/app' }, env: {} }, 'publicUrl');
  });

  test('a plain-http issuer off loopback is refused, naming the key and the fix', () => {
    const provider = (extra: Record<string, unknown>) => ({
      ...base(),
      provider: { ...(base().provider as object), ...extra },
    });
    for (const issuer of [
      'http://idp.example.com',
      'http://10.0.0.5:8080',
      'http://[fe80::1]',
      'http://128.0.0.1',
    ]) {
      const line = oneProblem({ object: provider({ issuer }), env: {} }, 'provider.issuer', 'https');
      assert.match(line, /provider\.allowInsecureIssuer: true/);
    }
    for (const issuer of [
      'http://127.0.0.1:9000',
      'http://127.8.9.10',
      'http://localhost:9000',
      'http://[::1]:9000',
    ]) {
      assert.equal(loadConfig({ object: provider({ issuer }), env: {} }).provider.issuer, issuer, issuer);
    }
    const explicit = loadConfig({
      object: provider({ issuer: 'http://idp.example.com', allowInsecureIssuer: true }),
      env: {},
    });
    assert.equal(explicit.provider.allowInsecureIssuer, true);
    assert.ok(loadConfig({ object: provider({ issuer: 'https://idp.example.com' }), env: {} }));
    // The GitHub preset (GitHub Enterprise Server at an http URL) follows the same rule.
    oneProblem(
      { object: provider({ preset: 'github', issuer: 'http://ghe.example.com', scopes: [] }), env: {} },
      'provider.issuer',
    );
  });

  test('authorization.matchUsersBy: [sub, email] by default, [sub, login] with preset github; login only with github', () => {
    assert.deepEqual(loadConfig({ object: base(), env: {} }).authorization.matchUsersBy, ['sub', 'email']);
    const github = {
      ...base(),
      provider: {
        ...(base().provider as object),
        preset: 'github',
        issuer: 'https://github.com',
        scopes: [],
      },
    };
    assert.deepEqual(loadConfig({ object: github, env: {} }).authorization.matchUsersBy, ['sub', 'login']);
    const chosen = { ...base(), authorization: { matchUsersBy: ['sub', 'email', 'preferred_username'] } };
    assert.deepEqual(loadConfig({ object: chosen, env: {} }).authorization.matchUsersBy, [
      'sub',
      'email',
      'preferred_username',
    ]);
    const login = { ...base(), authorization: { matchUsersBy: ['sub', 'login'] } };
    oneProblem(
      { object: login, env: {} },
      'authorization.matchUsersBy',
      'preset: github',
      'preferred_username',
    );
    oneProblem(
      { object: { ...base(), authorization: { matchUsersBy: [] } }, env: {} },
      'authorization.matchUsersBy',
    );
    oneProblem(
      { object: { ...base(), authorization: { matchUsersBy: ['name'] } }, env: {} },
      'authorization.matchUsersBy',
    );
  });

  test('non-http URLs are refused', () => {
    oneProblem({ object: { ...base(), publicUrl: 'ftp://example.com' }, env: {} }, 'publicUrl', 'http');
    oneProblem({ object: { ...base(), upstream: 'not a url' }, env: {} }, 'upstream');
  });

  test('an unknown provider preset names the ones there are; a bad logoutUrl names its key', () => {
    const provider = (extra: Record<string, unknown>) => ({
      ...base(),
      provider: { ...(base().provider as object), ...extra },
    });
    oneProblem({ object: provider({ preset: 'pingfederate' }), env: {} }, 'provider.preset', 'keycloak');
    oneProblem({ object: provider({ logoutUrl: '/logout' }), env: {} }, 'provider.logoutUrl', 'http');
    const ok = loadConfig({ object: provider({ preset: 'cognito' }), env: {} });
    assert.equal(ok.provider.preset, 'cognito');
  });

  test('a path rule prefix must start with /', () => {
    const obj = { ...base(), authorization: { rules: [{ pathPrefix: 'admin' }] } };
    oneProblem({ object: obj, env: {} }, 'authorization.rules.0.pathPrefix', '/');
  });

  test('an invalid listen address says what form is expected', () => {
    oneProblem({ object: { ...base(), listen: '4180' }, env: {} }, 'listen', 'HOST:PORT');
    assert.equal(loadConfig({ object: { ...base(), listen: '[::1]:4180' }, env: {} }).listen, '[::1]:4180');
  });
});

describe('loadConfig: environment overrides', () => {
  test('GATEHOUSE_PROVIDER_CLIENT_SECRET overrides the object', () => {
    const cfg = loadConfig({ object: base(), env: { GATEHOUSE_PROVIDER_CLIENT_SECRET: 'from-env' } });
    assert.equal(cfg.provider.clientSecret, 'from-env');
    assert.equal(cfg.provider.clientId, 'gatehouse', 'siblings are kept');
  });

  test('a configuration can come entirely from the environment', () => {
    const cfg = loadConfig({
      env: {
        GATEHOUSE_PUBLIC_URL: 'https://auth.example.com',
        GATEHOUSE_PROVIDER_ISSUER: 'https://idp.example.com',
        GATEHOUSE_PROVIDER_CLIENT_ID: 'id',
        GATEHOUSE_PROVIDER_CLIENT_SECRET: 'secret',
        GATEHOUSE_SESSION_SECRET: SECRET,
      },
    });
    assert.equal(cfg.publicUrl, 'https://auth.example.com');
    assert.equal(cfg.provider.clientId, 'id');
    assert.equal(cfg.session.secret, SECRET);
  });

  test('arrays from CSV (trimmed, empties dropped) and from JSON', () => {
    const csv = loadConfig({ object: base(), env: { GATEHOUSE_PROVIDER_SCOPES: 'openid, email ,,groups' } });
    assert.deepEqual(csv.provider.scopes, ['openid', 'email', 'groups']);
    const json = loadConfig({
      object: base(),
      env: { GATEHOUSE_AUTHORIZATION_ALLOWED_GROUPS: '["Ops, EMEA", "admins"]' },
    });
    assert.deepEqual(json.authorization.allowedGroups, ['Ops, EMEA', 'admins']);
  });

  test('arrays of objects are read as JSON', () => {
    const cfg = loadConfig({
      object: base(),
      env: { GATEHOUSE_AUTHORIZATION_RULES: '[{"pathPrefix":"/admin","allowedGroups":["admins"]}]' },
    });
    assert.equal(cfg.authorization.rules.length, 1);
    assert.equal(cfg.authorization.rules[0]?.pathPrefix, '/admin');
    assert.deepEqual(cfg.authorization.rules[0]?.allowedGroups, ['admins']);
    assert.deepEqual(cfg.authorization.rules[0]?.allowedUsers, [], 'rule defaults applied');
  });

  test('invalid JSON in an env var names the variable', () => {
    oneProblem(
      { object: base(), env: { GATEHOUSE_AUTHORIZATION_RULES: '[{' } },
      'GATEHOUSE_AUTHORIZATION_RULES',
      'JSON',
    );
    oneProblem(
      { object: base(), env: { GATEHOUSE_PROVIDER_SCOPES: '[openid' } },
      'GATEHOUSE_PROVIDER_SCOPES',
    );
  });

  test('numbers are parsed', () => {
    const cfg = loadConfig({
      object: base(),
      env: { GATEHOUSE_REFRESH_GRACE_SECONDS: '15', GATEHOUSE_SESSION_MAX_AGE_SECONDS: '3600' },
    });
    assert.equal(cfg.refresh.graceSeconds, 15);
    assert.equal(cfg.session.maxAgeSeconds, 3600);
  });

  test('a bad number names the variable and the value', () => {
    const line = oneProblem(
      { object: base(), env: { GATEHOUSE_REFRESH_GRACE_SECONDS: 'abc' } },
      'GATEHOUSE_REFRESH_GRACE_SECONDS',
    );
    assert.match(line, /"abc" is not a number/);
    oneProblem(
      { object: base(), env: { GATEHOUSE_REFRESH_GRACE_SECONDS: '  ' } },
      'GATEHOUSE_REFRESH_GRACE_SECONDS',
    );
  });

  test('a number that parses but breaks the schema names key and env var', () => {
    oneProblem(
      { object: base(), env: { GATEHOUSE_SESSION_MAX_AGE_SECONDS: '1.5' } },
      'session.maxAgeSeconds',
      'GATEHOUSE_SESSION_MAX_AGE_SECONDS',
    );
  });

  test('booleans accept true/false/1/0/yes/no in any case', () => {
    for (const [raw, want] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['yes', true],
      ['false', false],
      ['0', false],
      ['No', false],
    ] as const) {
      const cfg = loadConfig({ object: base(), env: { GATEHOUSE_HEADERS_PASS_ACCESS_TOKEN: raw } });
      assert.equal(cfg.headers.passAccessToken, want, raw);
    }
  });

  test('a bad boolean names the variable', () => {
    oneProblem(
      { object: base(), env: { GATEHOUSE_PROVIDER_END_SESSION: 'maybe' } },
      'GATEHOUSE_PROVIDER_END_SESSION',
      'boolean',
    );
  });

  test('provider.useUserinfo reads true, false and auto from the environment', () => {
    for (const [raw, want] of [
      ['true', true],
      ['false', false],
      ['auto', 'auto'],
    ] as const) {
      const cfg = loadConfig({ object: base(), env: { GATEHOUSE_PROVIDER_USE_USERINFO: raw } });
      assert.equal(cfg.provider.useUserinfo, want);
    }
  });

  test('record keys are read as JSON', () => {
    const cfg = loadConfig({
      object: base(),
      env: { GATEHOUSE_PROVIDER_AUTHORIZATION_PARAMS: '{"prompt":"consent"}' },
    });
    assert.deepEqual(cfg.provider.authorizationParams, { prompt: 'consent' });
  });

  test('env beats the file, which is read as the base', () => {
    const file = join(dir, 'env-beats-file.yaml');
    writeFileSync(
      file,
      [
        'publicUrl: http://127.0.0.1:4180',
        'provider:',
        '  issuer: http://127.0.0.1:9000',
        '  clientId: from-file',
        '  clientSecret: file-secret',
        'session:',
        `  secret: "${SECRET}"`,
        '',
      ].join('\n'),
    );
    const cfg = loadConfig({ file, env: { GATEHOUSE_PROVIDER_CLIENT_ID: 'from-env' } });
    assert.equal(cfg.provider.clientId, 'from-env');
    assert.equal(cfg.provider.clientSecret, 'file-secret');
  });
});

describe('loadConfig: secret references', () => {
  test('env:NAME is resolved', () => {
    const obj = base();
    (obj.provider as Record<string, unknown>).clientSecret = 'env:MY_CLIENT_SECRET';
    const cfg = loadConfig({ object: obj, env: { MY_CLIENT_SECRET: 's3cr3t' } });
    assert.equal(cfg.provider.clientSecret, 's3cr3t');
  });

  test('env:NAME works when the reference itself comes from the environment', () => {
    const cfg = loadConfig({
      object: base(),
      env: { GATEHOUSE_SESSION_SECRET: 'env:OTHER_SECRET', OTHER_SECRET: SECRET.toUpperCase() },
    });
    assert.equal(cfg.session.secret, SECRET.toUpperCase());
  });

  test('a missing or empty env reference names the key and the variable', () => {
    const obj = base();
    (obj.provider as Record<string, unknown>).clientSecret = 'env:NOT_SET_ANYWHERE';
    const line = oneProblem({ object: obj, env: {} }, 'provider.clientSecret', 'NOT_SET_ANYWHERE');
    assert.match(line, /not set/);
    oneProblem({ object: obj, env: { NOT_SET_ANYWHERE: '' } }, 'provider.clientSecret', 'NOT_SET_ANYWHERE');
  });

  test('file:/path is read and trimmed', () => {
    const file = join(dir, 'session-secret');
    writeFileSync(file, `${SECRET}\n`);
    const cfg = loadConfig({ object: { ...base(), session: { secret: `file:${file}` } }, env: {} });
    assert.equal(cfg.session.secret, SECRET);
  });

  test('session.previousSecrets entries may be file: or env: references too (a rotation keeps secrets out of the YAML)', () => {
    const file = join(dir, 'old-session-secret');
    writeFileSync(file, `${SECRET}-old\n`);
    const cfg = loadConfig({
      object: { ...base(), session: { secret: SECRET, previousSecrets: [`file:${file}`, 'env:OLDER'] } },
      env: { OLDER: `${SECRET}-older` },
    });
    assert.deepEqual(cfg.session.previousSecrets, [`${SECRET}-old`, `${SECRET}-older`]);
    oneProblem(
      { object: { ...base(), session: { secret: SECRET, previousSecrets: ['env:GONE'] } }, env: {} },
      'session.previousSecrets[0]',
      'GONE',
    );
  });

  test('an unreadable secret file names the key, the file and the error code', () => {
    const file = join(dir, 'does-not-exist');
    oneProblem(
      { object: { ...base(), session: { secret: `file:${file}` } }, env: {} },
      'session.secret',
      file,
      'ENOENT',
    );
  });

  test('values that are not secret paths are not resolved', () => {
    const cfg = loadConfig({ object: { ...base(), skipAuth: ['/env:x'] }, env: {} });
    assert.deepEqual(cfg.skipAuth, ['/env:x']);
  });
});

describe('loadConfig: YAML files', () => {
  test('a valid file is loaded', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(
      file,
      [
        'publicUrl: https://auth.example.com',
        'provider:',
        '  issuer: https://idp.example.com',
        '  clientId: gatehouse',
        '  clientSecret: x',
        '  scopes: [openid, email]',
        'session:',
        `  secret: "${SECRET}"`,
        'authorization:',
        '  rules:',
        '    - pathPrefix: /admin',
        '      allowedGroups: [admins]',
        'skipAuth: [/healthz-upstream]',
        '',
      ].join('\n'),
    );
    const cfg = loadConfig({ file, env: {} });
    assert.deepEqual(cfg.provider.scopes, ['openid', 'email']);
    assert.equal(cfg.authorization.rules[0]?.pathPrefix, '/admin');
    assert.deepEqual(cfg.skipAuth, ['/healthz-upstream']);
  });

  test('a YAML syntax error names the file', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'provider:\n  clientId: [unclosed\n  issuer: x\n');
    oneProblem({ file, env: {} }, file, 'YAML');
  });

  test('a YAML file that is not a mapping names the file', () => {
    const file = join(dir, 'list.yaml');
    writeFileSync(file, '- a\n- b\n');
    oneProblem({ file, env: {} }, file, 'mapping');
  });

  test('an unreadable file names the file and the --config flag', () => {
    const file = join(dir, 'missing.yaml');
    oneProblem({ file, env: {} }, file, '--config');
  });

  test('an empty file falls back to the object and environment', () => {
    const file = join(dir, 'empty.yaml');
    writeFileSync(file, '');
    const cfg = loadConfig({ file, object: base(), env: {} });
    assert.equal(cfg.provider.clientId, 'gatehouse');
  });
});

describe('loadConfig: provider.caFile (an internal CA) and provider.discoveryRefreshSeconds', () => {
  let ca: TestCa;
  before(() => {
    ca = makeTestCa();
  });
  after(() => ca.remove());
  const withProvider = (extra: Record<string, unknown>) => {
    const b = base();
    return { ...b, provider: { ...(b.provider as Record<string, unknown>), ...extra } };
  };

  test('a PEM bundle path, a list of them, or one path from GATEHOUSE_PROVIDER_CA_FILE', () => {
    assert.equal(
      loadConfig({ object: withProvider({ caFile: ca.caFile }), env: {} }).provider.caFile,
      ca.caFile,
    );
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, `${ca.caPem}\n${ca.cert}`);
    assert.deepEqual(
      loadConfig({ object: withProvider({ caFile: [ca.caFile, bundle] }), env: {} }).provider.caFile,
      [ca.caFile, bundle],
    );
    const fromEnv = loadConfig({ object: base(), env: { GATEHOUSE_PROVIDER_CA_FILE: ca.caFile } });
    assert.equal(fromEnv.provider.caFile, ca.caFile);
    assert.equal(loadConfig({ object: base(), env: {} }).provider.caFile, undefined);
  });

  test('an unreadable file names provider.caFile, the path and the fix', () => {
    const missing = join(dir, 'no-such-ca.pem');
    const line = oneProblem(
      { object: withProvider({ caFile: missing }), env: {} },
      'provider.caFile',
      missing,
    );
    assert.match(line, /ENOENT/);
    assert.match(line, /readable PEM file/);
    oneProblem({ object: base(), env: { GATEHOUSE_PROVIDER_CA_FILE: missing } }, 'provider.caFile', missing);
  });

  test('a file with no PEM certificate (a key, DER, anything else) is refused', () => {
    const keyOnly = join(dir, 'key-only.pem');
    writeFileSync(keyOnly, ca.key);
    oneProblem(
      { object: withProvider({ caFile: [ca.caFile, keyOnly] }), env: {} },
      'provider.caFile',
      keyOnly,
      'no PEM certificate',
    );
  });

  test('a PEM certificate that does not parse is refused', () => {
    const broken = join(dir, 'broken-ca.pem');
    writeFileSync(
      broken,
      '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n',
    );
    oneProblem(
      { object: withProvider({ caFile: broken }), env: {} },
      'provider.caFile',
      broken,
      'does not parse',
    );
  });

  test('discoveryRefreshSeconds: default 3600, 0 = never, at least 60', () => {
    assert.equal(loadConfig({ object: base(), env: {} }).provider.discoveryRefreshSeconds, 3600);
    assert.equal(
      loadConfig({ object: withProvider({ discoveryRefreshSeconds: 0 }), env: {} }).provider
        .discoveryRefreshSeconds,
      0,
    );
    oneProblem(
      { object: base(), env: { GATEHOUSE_PROVIDER_DISCOVERY_REFRESH_SECONDS: '30' } },
      'provider.discoveryRefreshSeconds',
      '0 (never) or between 60 and 86400',
    );
  });
});

describe('planReload: the session section is compared key by key', () => {
  const OTHER = 'another-session-secret-long-enough-0123456789';
  const load = (session: Record<string, unknown>, provider: Record<string, unknown> = {}) => {
    const b = base();
    return loadConfig({
      env: {},
      object: { ...b, session, provider: { ...(b.provider as Record<string, unknown>), ...provider } },
    });
  };

  test('session.secret and previousSecrets apply; store, cookieName, lifetimes and provider.clientSecret need a restart', () => {
    const running = load({ secret: SECRET, maxAgeSeconds: 3600 });
    const rotated = planReload(
      running,
      load({ secret: OTHER, previousSecrets: [SECRET], maxAgeSeconds: 3600 }),
    );
    assert.deepEqual(rotated.applied, ['session.previousSecrets', 'session.secret']);
    assert.deepEqual(rotated.needsRestart, []);
    assert.equal(rotated.settings.session.secret, OTHER);
    assert.deepEqual(rotated.settings.session.previousSecrets, [SECRET]);

    const mixed = planReload(
      running,
      load(
        { secret: OTHER, store: 'redis', cookieName: 'gh', maxAgeSeconds: 60, redisUrl: 'redis://x:6379' },
        { clientSecret: 'a-new-client-secret' },
      ),
    );
    assert.deepEqual(mixed.applied, ['session.secret']);
    assert.deepEqual(mixed.needsRestart, [
      'provider',
      'session.cookieName',
      'session.maxAgeSeconds',
      'session.redisUrl',
      'session.store',
    ]);
    // The restart-only keys keep their running values in the settings run with.
    assert.equal(mixed.settings.session.secret, OTHER);
    assert.equal(mixed.settings.session.store, 'memory');
    assert.equal(mixed.settings.session.cookieName, 'gatehouse');
    assert.equal(mixed.settings.session.maxAgeSeconds, 3600);
  });
});

describe('loadConfig: tracing', () => {
  test('off by default, with the documented defaults', () => {
    const cfg = loadConfig({ object: base(), env: {} });
    assert.deepEqual(cfg.tracing, {
      enabled: false,
      serviceName: 'gatehouse',
      sampleRatio: 1,
      continueClientTraces: true,
    });
  });

  test('from the environment, like every key', () => {
    const cfg = loadConfig({
      object: base(),
      env: {
        GATEHOUSE_TRACING_ENABLED: 'true',
        GATEHOUSE_TRACING_OTLP_ENDPOINT: 'http://collector:4318/v1/traces',
        GATEHOUSE_TRACING_SAMPLE_RATIO: '0.25',
      },
    });
    assert.equal(cfg.tracing.enabled, true);
    assert.equal(cfg.tracing.otlpEndpoint, 'http://collector:4318/v1/traces');
    assert.equal(cfg.tracing.sampleRatio, 0.25);
  });

  test('a bad value names the key', () => {
    oneProblem({ object: { ...base(), tracing: { sampleRatio: 2 } }, env: {} }, 'tracing.sampleRatio');
    oneProblem(
      { object: { ...base(), tracing: { otlpEndpoint: 'collector:4318' } }, env: {} },
      'tracing.otlpEndpoint',
    );
    oneProblem({ object: { ...base(), tracing: { enable: true } }, env: {} }, 'tracing');
  });

  test('a change of tracing needs a restart', () => {
    const running = loadConfig({ object: base(), env: {} });
    const next = loadConfig({ object: { ...base(), tracing: { enabled: true } }, env: {} });
    assert.deepEqual(planReload(running, next).needsRestart, ['tracing']);
  });
});
