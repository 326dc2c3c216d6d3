import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { identityMatchWarnings, plausibleSubject } from '../../src/authz/identityWarnings.js';
import type { AuthorizationPolicy } from '../../src/authz/policy.js';
import { presetNamed } from '../../src/oidc/presets/index.js';
import { authzPolicy } from './fixtures.js';

const authz = authzPolicy;

const rule = (pathPrefix: string, r: Partial<AuthorizationPolicy> = {}) => ({
  pathPrefix,
  allowedEmailDomains: [],
  allowedUsers: [],
  allowedGroups: [],
  allowedRoles: [],
  ...r,
});

describe('identityMatchWarnings: rules that now match fewer users', () => {
  test('nothing to say about groups, roles, subjects, or usernames that matchUsersBy covers', () => {
    assert.deepEqual(identityMatchWarnings(authz({ allowedGroups: ['admins'] }), presetNamed('generic')), []);
    const subs = [
      '00u1abcdEFGHijkl2345',
      '7d9f1c2e-0b6a-4e5f-9a1b-2c3d4e5f6a7b',
      '109876543210987654321',
      'auth0|abc',
    ];
    assert.deepEqual(identityMatchWarnings(authz({ allowedUsers: subs }), presetNamed('generic')), []);
    const named = authz({ allowedUsers: ['bob'], matchUsersBy: ['sub', 'email', 'preferred_username'] });
    assert.deepEqual(identityMatchWarnings(named, presetNamed('generic')), []);
    // GitHub: logins are matched by default ([sub, login]); subjects are host/id.
    assert.deepEqual(
      identityMatchWarnings(authz({ allowedUsers: ['octocat', 'github.com/1'] }), presetNamed('github')),
      [],
    );
  });

  test('a username entry without preferred_username in matchUsersBy names the rule and the fix', () => {
    const w = identityMatchWarnings(
      authz({ allowedUsers: ['bob'], rules: [rule('/admin', { allowedUsers: ['alice', 'carol'] })] }),
      presetNamed('google'),
    );
    assert.equal(w.length, 2);
    assert.match(w[0]!, /^authorization\.allowedUsers: "bob" looks like a username/);
    assert.match(w[0]!, /add preferred_username to authorization\.matchUsersBy/);
    assert.match(
      w[1]!,
      /^authorization\.rules\[0\] \(\/admin\)\.allowedUsers: "alice", "carol" look like usernames/,
    );
  });

  test('an e-mail entry: unmatched without email in matchUsersBy, verified-only with a generic provider', () => {
    const gh = identityMatchWarnings(authz({ allowedUsers: ['a@example.com'] }), presetNamed('github'));
    assert.equal(gh.length, 1);
    assert.match(gh[0]!, /does not compare — nobody matches it; add email to matchUsersBy/);
    const generic = identityMatchWarnings(authz({ allowedUsers: ['a@example.com'] }), presetNamed('generic'));
    assert.match(generic[0]!, /only an address the provider marks verified/);
    assert.deepEqual(
      identityMatchWarnings(authz({ allowedUsers: ['a@example.com'] }), presetNamed('google')),
      [],
    );
    const hatch = authz({ allowedUsers: ['a@example.com'], allowUnverifiedEmail: true });
    assert.deepEqual(identityMatchWarnings(hatch, presetNamed('generic')), []);
  });

  test('an email domain rule with a provider that may not send email_verified', () => {
    const w = identityMatchWarnings(
      authz({ rules: [rule('/finance', { allowedEmailDomains: ['example.com'] })] }),
      presetNamed('generic'),
    );
    assert.equal(w.length, 1);
    assert.match(
      w[0]!,
      /^authorization\.rules\[0\] \(\/finance\)\.allowedEmailDomains: now matches only addresses/,
    );
    for (const preset of ['google', 'cognito', 'github'] as const) {
      assert.deepEqual(
        identityMatchWarnings(authz({ allowedEmailDomains: ['example.com'] }), presetNamed(preset)),
        [],
        preset,
      );
    }
  });
});

describe('plausibleSubject', () => {
  test('common subject shapes, and what looks like a name', () => {
    for (const s of [
      'github.com/583231',
      'auth0|5f7c8ec7c33c6c004bbafe82',
      '248289761001',
      'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
    ]) {
      assert.ok(plausibleSubject(s), s);
    }
    for (const s of ['bob', 'alice.smith', 'jdoe42', 'usr_alice']) assert.ok(!plausibleSubject(s), s);
  });
});
