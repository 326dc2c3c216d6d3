import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { PROFILE_NAMES } from '../../src/devidp/profiles.js';
import { refreshReadiness } from '../../src/oidc/offlineAccess.js';
import { PRESET_NAMES, type PresetName, presetNamed, resolvePreset } from '../../src/oidc/presets/index.js';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

/** The registry is the only place that knows the presets: every one must be usable from config. */
describe('provider preset registry', () => {
  test('lists the presets in the order auto asks them, generic (the fallback) last', () => {
    assert.deepEqual(
      [...PRESET_NAMES],
      ['google', 'entra', 'auth0', 'okta', 'keycloak', 'cognito', 'gitlab', 'github', 'generic'],
    );
  });

  for (const name of PRESET_NAMES) {
    test(`${name}: found by name, its dev IdP profile exists, selectable from config`, () => {
      const preset = presetNamed(name);
      assert.equal(preset.name, name);
      if (preset.devIdpProfile !== undefined)
        assert.ok(
          PROFILE_NAMES.includes(preset.devIdpProfile),
          `dev IdP has no profile ${preset.devIdpProfile}`,
        );
      assert.ok(preset.matchUsersBy.length > 0, 'a preset names how users are matched by default');
      const cfg = loadConfig({
        object: {
          publicUrl: 'http://127.0.0.1:4180',
          upstream: 'http://127.0.0.1:8080',
          provider: {
            preset: name,
            issuer: name === 'github' ? 'https://github.com' : 'http://127.0.0.1:9000',
            clientId: 'gatehouse',
            clientSecret: 'gatehouse-dev-secret',
            ...(name === 'github' ? { scopes: ['read:user', 'user:email'] } : {}),
          },
          session: { secret: SECRET },
        },
        env: {},
      });
      assert.equal(cfg.provider.preset, name);
    });
  }
});

function configWith(provider: Record<string, unknown>) {
  return loadConfig({
    object: {
      publicUrl: 'http://127.0.0.1:4180',
      upstream: 'http://127.0.0.1:8080',
      provider: { clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret', ...provider },
      session: { secret: SECRET },
    },
    env: {},
  });
}

/** provider.preset: auto, the default: the preset from the issuer, the way traefikoidc documents. */
describe('provider.preset auto', () => {
  const cases: Array<[string, string]> = [
    ['https://accounts.google.com', 'google'],
    ['https://dev-abc123.us.auth0.com/', 'auth0'],
    ['https://acme.okta.com', 'okta'],
    ['https://acme.okta.com/oauth2/default', 'okta'],
    ['https://acme.oktapreview.com/oauth2/aus1', 'okta'],
    ['https://acme.okta-emea.com', 'okta'],
    ['https://sso.example.com/realms/acme', 'keycloak'],
    ['https://sso.example.com/auth/realms/acme', 'keycloak'],
    ['https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf', 'cognito'],
    ['https://gitlab.com', 'gitlab'],
    ['https://gitlab.example.com', 'gitlab'],
    ['https://github.com', 'github'],
    ['https://login.example.com', 'generic'],
    // Look-alikes are no provider's: whole labels only.
    ['https://evil-okta.com', 'generic'],
    ['https://acme.okta.com.evil.example', 'generic'],
    ['https://notauth0.com', 'generic'],
    ['https://example.com/realms', 'generic'],
    ['https://mygitlab.example.com', 'generic'],
    ['http://127.0.0.1:9000', 'generic'],
  ];
  for (const [issuer, name] of cases) {
    test(`${issuer} → ${name}`, () => {
      const choice = resolvePreset('auto', issuer);
      assert.equal(choice.preset.name, name);
      assert.match(choice.because, /^auto: /);
    });
  }

  test('is the default, resolved once at load: the loaded config names the preset and why', () => {
    const cfg = configWith({ issuer: 'https://sso.example.com/realms/acme' });
    assert.equal(cfg.provider.preset, 'keycloak');
    assert.equal(cfg.provider.presetChosenBecause, 'auto: issuer path /realms/<realm>');
    const none = configWith({ issuer: 'https://login.example.com' });
    assert.equal(none.provider.preset, 'generic');
    assert.match(none.provider.presetChosenBecause, /no preset recognises the issuer login\.example\.com/);
  });

  test('an explicit preset always wins, whatever the issuer', () => {
    const cfg = configWith({ issuer: 'https://sso.example.com/realms/acme', preset: 'generic' });
    assert.equal(cfg.provider.preset, 'generic');
    assert.equal(cfg.provider.presetChosenBecause, 'provider.preset');
    assert.equal(configWith({ issuer: 'https://idp.corp.example', preset: 'okta' }).provider.preset, 'okta');
  });
});

describe('claim names after the preset', () => {
  test('unset: the standard names; set: kept as written', () => {
    const std = configWith({ issuer: 'https://login.example.com' });
    assert.deepEqual(
      [
        std.provider.groupsClaim,
        std.provider.rolesClaim,
        std.provider.usernameClaim,
        std.provider.emailClaim,
      ],
      ['groups', 'roles', 'preferred_username', 'email'],
    );
    const set = configWith({
      issuer: 'https://login.example.com',
      groupsClaim: 'memberOf',
      emailClaim: 'upn',
    });
    assert.equal(set.provider.groupsClaim, 'memberOf');
    assert.equal(set.provider.emailClaim, 'upn');
  });

  test('github: a claim name written as the standard one is accepted, another is refused', () => {
    const base = { issuer: 'https://github.com', scopes: ['read:user', 'user:email'] };
    assert.equal(configWith({ ...base, groupsClaim: 'groups' }).provider.preset, 'github');
    assert.throws(
      () => configWith({ ...base, groupsClaim: 'teams' }),
      /provider\.groupsClaim: not used with preset github/,
    );
  });
});

describe('claim shaping (preset.shapeClaims)', () => {
  const mapping = {
    groupsClaim: 'groups',
    rolesClaim: 'roles',
    usernameClaim: 'preferred_username',
    emailClaim: 'email',
  };
  const shape = (name: PresetName, claims: Record<string, unknown>, m = mapping) =>
    presetNamed(name).shapeClaims!(claims, { clientId: 'gatehouse', mapping: m });

  test('keycloak: paths lose their leading /, realm roles without the defaults, only our client’s roles', () => {
    const out = shape('keycloak', {
      sub: 'u',
      groups: ['/admins', '/eng/backend'],
      realm_access: { roles: ['ops', 'offline_access', 'uma_authorization', 'default-roles-acme'] },
      resource_access: { gatehouse: { roles: ['editor'] }, 'other-app': { roles: ['owner'] } },
    });
    assert.deepEqual(out.groups, ['admins', 'eng/backend', 'ops', 'editor']);
    assert.deepEqual(out.roles, ['ops', 'editor']);
  });

  test('keycloak: a claim name the configuration sets is read unshaped', () => {
    const claims = { sub: 'u', groups: ['/admins'], realm_access: { roles: ['ops'] } };
    const out = shape('keycloak', claims, { ...mapping, groupsClaim: 'realm_access.roles' });
    assert.deepEqual(out.groups, ['/admins']);
  });

  test('auth0: namespaced …/groups and …/roles when the plain claims are absent', () => {
    const out = shape('auth0', {
      sub: 'u',
      'https://example.com/groups': ['admins'],
      'https://example.com/app/roles': ['admin'],
      'https://example.com/groupsx': ['nope'],
    });
    assert.deepEqual(out.groups, ['admins']);
    assert.deepEqual(out.roles, ['admin']);
    assert.deepEqual(
      shape('auth0', { sub: 'u', groups: ['plain'], 'https://x.example/groups': ['ns'] }).groups,
      ['plain'],
    );
  });

  test('gitlab: groups_direct only when groups (userinfo) is absent', () => {
    assert.deepEqual(shape('gitlab', { sub: 'u', groups_direct: ['a'] }).groups, ['a']);
    assert.deepEqual(shape('gitlab', { sub: 'u', groups_direct: ['a'], groups: ['a', 'a/b'] }).groups, [
      'a',
      'a/b',
    ]);
  });

  test('okta: asks for the groups scope unless discovery lists scopes without it', () => {
    const plan = (scopesSupported: string[] | undefined) =>
      presetNamed('okta').offlineAccess({
        scopes: ['openid', 'email', 'profile', 'offline_access'],
        requestOfflineAccess: true,
        scopesSupported,
      }).scopes;
    assert.ok(plan(undefined).includes('groups'));
    assert.ok(plan(['openid', 'groups', 'offline_access']).includes('groups'));
    assert.ok(!plan(['openid', 'offline_access']).includes('groups'));
  });
});

describe('refresh-token readiness (the start-up line per preset)', () => {
  const req = (scopesSupported: string[] | undefined, requestOfflineAccess = true) => ({
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    requestOfflineAccess,
    scopesSupported,
  });
  const line = (name: PresetName, r = req(['openid', 'offline_access'])) =>
    refreshReadiness(presetNamed(name).offlineAccess(r));

  test('generic: offline_access listed → requested and expected; not listed → dropped, not expected', () => {
    assert.match(
      line('generic'),
      /requesting scope offline_access \(listed in discovery\); a refresh token is expected/,
    );
    assert.match(line('generic', req(['openid'])), /not in the provider's scopes_supported.*comes only if/);
    assert.match(line('generic', req(['openid', 'offline_access'], false)), /requestOfflineAccess is false/);
  });

  test('google, cognito, gitlab, github, keycloak say what their provider does', () => {
    assert.match(line('google', req(['openid'])), /access_type=offline and prompt=consent.*expected/);
    assert.match(line('google', req(['openid'], false)), /Google issues no refresh token/);
    assert.match(line('cognito', req(['openid'])), /Cognito issues a refresh token with every/);
    assert.match(line('gitlab', req(['openid'])), /GitLab issues a refresh token with every/);
    assert.match(line('github', req(undefined)), /GitHub App with expiring user tokens/);
    assert.match(line('keycloak'), /offline token, which outlives the Keycloak SSO session/);
  });

  test('a plan without its own line is described from its scopes and parameters', () => {
    const plan = { scopes: ['openid'], extraParams: { access_type: 'offline' }, missingRefreshHint: '' };
    assert.equal(refreshReadiness(plan), 'requesting access_type=offline; a refresh token is expected');
  });
});
