import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PROFILE_INFO } from '../../src/devidp/profiles.js';
import { PRESET_NAMES, presetNamed } from '../../src/oidc/presets/index.js';

const DOC = readFileSync(new URL('../../docs/dev-idp.md', import.meta.url), 'utf8');

describe('dev IdP profiles: inventory', () => {
  it('every profile has a row of its own in docs/dev-idp.md', () => {
    const missing = PROFILE_INFO.filter((p) => !DOC.includes(`| \`${p.name}\` |`)).map((p) => p.name);
    assert.deepEqual(missing, []);
  });

  it('--list-profiles is documented in the CLI table', () => {
    assert.match(DOC, /\| `--list-profiles` \|/);
  });

  it('every provider preset but generic names a dev IdP profile of kind provider', () => {
    for (const name of PRESET_NAMES) {
      const profile = presetNamed(name).devIdpProfile;
      // generic is the dev IdP with no profile at all: plain OpenID Connect with discovery.
      if (name === 'generic') {
        assert.equal(profile, undefined);
        continue;
      }
      assert.equal(PROFILE_INFO.find((p) => p.name === profile)?.kind, 'provider', `preset ${name}`);
    }
  });

  it('at least 45 profiles, and summaries never contain a tab (the --list-profiles separator)', () => {
    assert.ok(PROFILE_INFO.length >= 45, `${PROFILE_INFO.length} profiles`);
    for (const p of PROFILE_INFO) assert.ok(!/[\t\n]/.test(p.summary), p.name);
  });
});
