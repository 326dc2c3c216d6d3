import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { PROFILE_NAMES } from '../../src/devidp/profiles.js';
import { PRESET_NAMES, presetNamed } from '../../src/oidc/presets/index.js';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

/** The registry is the only place that knows the presets: every one must be usable from config. */
describe('provider preset registry', () => {
  test('lists generic first (the default) and the presets the docs name', () => {
    assert.deepEqual([...PRESET_NAMES], ['generic', 'google', 'cognito', 'github', 'entra']);
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
