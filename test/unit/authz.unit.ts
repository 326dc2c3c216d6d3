import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exemptionCovers } from '../../src/authz/pathPrefix.js';
import { pathReadings } from '../../src/authz/pathReadings.js';
import { type AuthorizationPolicy, authorize } from '../../src/authz/policy.js';
import type { Identity } from '../../src/identity/identity.js';
import { authzPolicy } from './fixtures.js';

const policy = authzPolicy;

function rule(
  pathPrefix: string,
  r: Partial<AuthorizationPolicy['rules'][number]> = {},
): AuthorizationPolicy['rules'][number] {
  return { pathPrefix, allowedEmailDomains: [], allowedUsers: [], allowedGroups: [], allowedRoles: [], ...r };
}

const alice: Identity = {
  sub: 'sub-alice',
  user: 'alice',
  email: 'alice@Example.COM',
  emailVerified: true,
  preferredUsername: 'alice',
  groups: ['dev', 'Ops, EMEA'],
  roles: ['viewer'],
};

function allowed(p: AuthorizationPolicy, id: Identity, path = '/'): boolean {
  return authorize(p, id, pathReadings(path)).ok;
}

function reasonOf(p: AuthorizationPolicy, id: Identity, path = '/'): string {
  const r = authorize(p, id, pathReadings(path));
  assert.equal(r.ok, false, 'expected a denial');
  return (r as { reason: string }).reason;
}

describe('authorize: global lists', () => {
  test('an empty policy allows any authenticated user', () => {
    assert.ok(allowed(policy(), alice));
    assert.ok(allowed(policy(), { sub: 's', user: 's', groups: [], roles: [] }));
  });

  test('email domains match case-insensitively', () => {
    assert.ok(allowed(policy({ allowedEmailDomains: ['example.com'] }), alice));
    assert.ok(
      allowed(policy({ allowedEmailDomains: ['EXAMPLE.com'] }), { ...alice, email: 'a@example.com' }),
    );
    assert.ok(allowed(policy({ allowedEmailDomains: ['other.org', 'example.com'] }), alice));
  });

  test('email domains match exactly: no subdomains, no suffix tricks', () => {
    const p = policy({ allowedEmailDomains: ['example.com'] });
    assert.ok(!allowed(p, { ...alice, email: 'a@sub.example.com' }));
    assert.ok(!allowed(p, { ...alice, email: 'a@evilexample.com' }));
    assert.ok(!allowed(p, { ...alice, email: 'a@example.com.evil.org' }));
  });

  test('a domain rule refuses a user without email', () => {
    const { email: _e, ...noEmail } = alice;
    assert.match(reasonOf(policy({ allowedEmailDomains: ['example.com'] }), noEmail), /email domain/);
  });

  // Changed on purpose (issue 8, item 12): allowedUsers used to match the display user, any
  // e-mail and preferred_username too; only iss+sub are stable (OIDC Core §5.7).
  test('users match sub and a verified email by default, never the username', () => {
    const id: Identity = {
      sub: 'sub-1',
      user: 'the-user',
      email: 'mail@example.com',
      emailVerified: true,
      preferredUsername: 'pref',
      groups: [],
      roles: [],
    };
    for (const u of ['mail@example.com', 'sub-1']) {
      assert.ok(allowed(policy({ allowedUsers: [u] }), id), u);
    }
    for (const u of ['the-user', 'pref', 'someone-else']) {
      assert.match(reasonOf(policy({ allowedUsers: [u] }), id), /not on the list/, u);
    }
  });

  test('an unverified or unconfirmed address never matches allowedUsers (nOAuth)', () => {
    const base: Identity = { sub: 's', user: 'u', email: 'boss@example.com', groups: [], roles: [] };
    const p = policy({ allowedUsers: ['boss@example.com'] });
    assert.ok(!allowed(p, base), 'no email_verified claim');
    assert.ok(!allowed(p, { ...base, emailVerified: false }), 'email_verified: false');
    assert.ok(allowed(p, { ...base, emailVerified: true }));
    assert.ok(
      allowed(policy({ allowedUsers: ['boss@example.com'], allowUnverifiedEmail: true }), base),
      'allowUnverifiedEmail is the explicit escape hatch',
    );
  });

  test('matchUsersBy chooses the identifiers', () => {
    const id: Identity = {
      sub: 'sub-1',
      user: 'pref',
      email: 'mail@example.com',
      emailVerified: true,
      preferredUsername: 'pref',
      groups: [],
      roles: [],
    };
    const withName = (u: string) =>
      policy({ allowedUsers: [u], matchUsersBy: ['sub', 'email', 'preferred_username'] });
    assert.ok(allowed(withName('pref'), id));
    const subOnly = (u: string) => policy({ allowedUsers: [u], matchUsersBy: ['sub'] });
    assert.ok(allowed(subOnly('sub-1'), id));
    assert.ok(!allowed(subOnly('mail@example.com'), id));
    assert.ok(!allowed(subOnly('pref'), id));
    // 'login' is GitHub's login, which the GitHub identity carries as preferred_username.
    assert.ok(allowed(policy({ allowedUsers: ['pref'], matchUsersBy: ['sub', 'login'] }), id));
    // Path rules use the same setting.
    const ruled = policy({
      matchUsersBy: ['sub'],
      rules: [rule('/admin', { allowedUsers: ['pref', 'mail@example.com'] })],
    });
    assert.ok(!allowed(ruled, id, '/admin'));
    assert.ok(allowed(ruled, { ...id, sub: 'pref' }, '/admin'));
  });

  test('groups: any of', () => {
    assert.ok(allowed(policy({ allowedGroups: ['admins', 'dev'] }), alice));
    assert.ok(allowed(policy({ allowedGroups: ['Ops, EMEA'] }), alice), 'group with a comma matches exactly');
    const reason = reasonOf(policy({ allowedGroups: ['admins', 'Ops'] }), alice);
    assert.match(reason, /admins, Ops/);
  });

  test('groups are case-sensitive', () => {
    assert.ok(!allowed(policy({ allowedGroups: ['DEV'] }), alice));
  });

  test('roles: any of', () => {
    assert.ok(allowed(policy({ allowedRoles: ['viewer'] }), alice));
    assert.match(reasonOf(policy({ allowedRoles: ['editor'] }), alice), /role/);
  });

  test('lists combine with AND', () => {
    const p = policy({ allowedEmailDomains: ['example.com'], allowedGroups: ['dev'] });
    assert.ok(allowed(p, alice));
    assert.ok(!allowed(p, { ...alice, groups: ['other'] }));
    assert.ok(!allowed(p, { ...alice, email: 'alice@other.org' }));
  });
});

describe('authorize: unverified email', () => {
  test('email_verified false is refused', () => {
    assert.match(reasonOf(policy(), { ...alice, emailVerified: false }), /not verified/);
  });

  test('unless allowUnverifiedEmail', () => {
    assert.ok(allowed(policy({ allowUnverifiedEmail: true }), { ...alice, emailVerified: false }));
  });

  test('an absent email_verified claim is not a refusal', () => {
    const { emailVerified: _v, ...id } = alice;
    assert.ok(allowed(policy(), id));
  });

  test('a domain rule needs email_verified: true — an absent claim is not enough (nOAuth)', () => {
    const { emailVerified: _v, ...unconfirmed } = alice;
    const p = policy({ allowedEmailDomains: ['example.com'] });
    assert.match(reasonOf(p, unconfirmed), /not verified by the identity provider/);
    const ruled = policy({ rules: [rule('/admin', { allowedEmailDomains: ['example.com'] })] });
    assert.ok(!allowed(ruled, unconfirmed, '/admin'));
    assert.ok(allowed(ruled, alice, '/admin'));
  });

  test('allowUnverifiedEmail lets an unverified address match a domain rule', () => {
    const p = policy({ allowedEmailDomains: ['example.com'], allowUnverifiedEmail: true });
    assert.ok(allowed(p, { ...alice, emailVerified: false }));
    const { emailVerified: _v, ...unconfirmed } = alice;
    assert.ok(allowed(p, unconfirmed));
  });

  test('an address without @ has no domain', () => {
    assert.ok(!allowed(policy({ allowedEmailDomains: ['example.com'] }), { ...alice, email: 'example.com' }));
  });

  test('the check runs before the domain list', () => {
    const p = policy({ allowedEmailDomains: ['example.com'] });
    assert.match(reasonOf(p, { ...alice, emailVerified: false }), /not verified/);
  });
});

describe('authorize: path rules', () => {
  const p = policy({ rules: [rule('/admin', { allowedGroups: ['admins'] })] });
  const admin: Identity = { ...alice, groups: ['admins'] };

  test('a rule applies to its prefix on segment boundaries', () => {
    assert.ok(!allowed(p, alice, '/admin'));
    assert.ok(!allowed(p, alice, '/admin/'));
    assert.ok(!allowed(p, alice, '/admin/users/1'));
    assert.ok(allowed(p, alice, '/administrator'));
    assert.ok(allowed(p, alice, '/admins'));
    assert.ok(allowed(p, alice, '/'));
    assert.ok(allowed(p, alice, '/public/admin'));
  });

  test('a member passes the rule', () => {
    assert.ok(allowed(p, admin, '/admin/users'));
  });

  test('the reason names the rule path', () => {
    assert.match(reasonOf(p, alice, '/admin/x'), /on \/admin/);
  });

  test('every matching rule must pass: a broad rule cannot widen a narrow one', () => {
    const two = policy({
      rules: [rule('/', { allowedGroups: ['dev', 'admins'] }), rule('/admin', { allowedGroups: ['admins'] })],
    });
    assert.ok(allowed(two, alice, '/app'));
    assert.ok(!allowed(two, alice, '/admin/x'));
    assert.ok(allowed(two, { ...alice, groups: ['admins'] }, '/admin/x'));
    assert.ok(!allowed(two, { ...alice, groups: ['other'] }, '/app'));
  });

  test('rule order does not matter', () => {
    const reversed = policy({
      rules: [rule('/admin', { allowedGroups: ['admins'] }), rule('/', { allowedGroups: ['dev', 'admins'] })],
    });
    assert.ok(!allowed(reversed, alice, '/admin/x'));
    assert.ok(allowed(reversed, { ...alice, groups: ['admins'] }, '/admin/x'));
  });

  test('global lists still apply on rule paths', () => {
    const g = policy({ allowedGroups: ['staff'], rules: [rule('/admin', { allowedGroups: ['admins'] })] });
    assert.ok(!allowed(g, { ...alice, groups: ['admins'] }, '/admin'));
    assert.ok(allowed(g, { ...alice, groups: ['admins', 'staff'] }, '/admin'));
  });

  test('nested rules', () => {
    const nested = policy({
      rules: [
        rule('/admin', { allowedGroups: ['admins'] }),
        rule('/admin/billing', { allowedRoles: ['billing'] }),
      ],
    });
    const adminNoBilling: Identity = { ...alice, groups: ['admins'], roles: [] };
    assert.ok(allowed(nested, adminNoBilling, '/admin/users'));
    assert.ok(!allowed(nested, adminNoBilling, '/admin/billing/invoices'));
    assert.ok(allowed(nested, { ...adminNoBilling, roles: ['billing'] }, '/admin/billing'));
  });
});

describe('authorize: rules see the canonical path', () => {
  // The upstream may normalise a path the gateway was given raw: decisions must be made on the
  // same path the upstream will serve.
  const p = policy({ rules: [rule('/admin', { allowedGroups: ['admins'] })] });
  for (const path of [
    '//admin',
    '/./admin',
    '/%61dmin',
    '/public/../admin/users',
    '/x/%2e%2e/admin',
    '\\admin',
  ]) {
    test(`${JSON.stringify(path)} is subject to the /admin rule`, () => {
      assert.equal(authorize(p, alice, pathReadings(path)).ok, false);
      assert.equal(authorize(p, { ...alice, groups: ['admins'] }, pathReadings(path)).ok, true);
    });
  }

  test('a path that only looks like the prefix after a dot segment escapes nothing', () => {
    assert.equal(authorize(p, alice, pathReadings('/admin/../public')).ok, true, 'resolves to /public');
  });
});

describe('exemptionCovers', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/admin', '/admin', true],
    ['/admin/', '/admin', true],
    ['/admin/x/y', '/admin', true],
    ['/administrator', '/admin', false],
    ['/admin-panel', '/admin', false],
    ['/adm', '/admin', false],
    ['/', '/admin', false],
    ['/anything', '/', true],
    ['/', '/', true],
    ['/x', '', true],
    ['/admin', '/admin/', true],
    ['/admin/x', '/admin/', true],
    ['/administrator', '/admin/', false],
    ['/api/v1/items', '/api/v1', true],
    ['/api/v10', '/api/v1', false],
    ['/public/../admin', '/public', false],
    ['/public/./x', '/public', true],
    ['//public/x', '/public', true],
    ['/%70ublic', '/public', true],
  ];
  for (const [path, prefix, want] of cases) {
    test(`${JSON.stringify(path)} under ${JSON.stringify(prefix)} → ${want}`, () => {
      assert.equal(exemptionCovers(pathReadings(path), prefix), want);
    });
  }
});

describe('authorize: rules match in any case unless caseSensitive (restrictions broadly)', () => {
  // Express, ASP.NET and IIS route /ADMIN to the /admin handler: a case-sensitive deny rule
  // would be a bypass there.
  const p = policy({ rules: [rule('/admin', { allowedGroups: ['admins'] })] });
  for (const path of ['/Admin', '/ADMIN', '/aDmIn/users', '/%41dmin', '/%61dmin', '/ad%6Din', '/ADMIN/']) {
    test(`${JSON.stringify(path)} is subject to the /admin rule`, () => {
      assert.equal(authorize(p, alice, pathReadings(path)).ok, false);
      assert.equal(authorize(p, { ...alice, groups: ['admins'] }, pathReadings(path)).ok, true);
    });
  }

  test('a rule written in upper case covers the lower-case path too', () => {
    const upper = policy({ rules: [rule('/Admin/', { allowedGroups: ['admins'] })] });
    assert.ok(!allowed(upper, alice, '/admin/x'));
    assert.ok(!allowed(upper, alice, '/admin'));
    assert.ok(allowed(upper, alice, '/administrator'));
  });

  test('segment boundaries still hold in any case', () => {
    assert.ok(allowed(p, alice, '/ADMINISTRATOR'));
    assert.ok(allowed(p, alice, '/Admins'));
  });

  test('caseSensitive: true matches the exact case only (for apps that route by exact case)', () => {
    const exact = policy({ rules: [rule('/admin', { allowedGroups: ['admins'], caseSensitive: true })] });
    assert.ok(!allowed(exact, alice, '/admin'));
    assert.ok(!allowed(exact, alice, '/admin/x'));
    assert.ok(!allowed(exact, alice, '/%61dmin'), 'an encoded unreserved character is still the same path');
    assert.ok(allowed(exact, alice, '/Admin'));
    assert.ok(allowed(exact, alice, '/ADMIN/x'));
  });

  test('caseSensitive: false is the default', () => {
    const explicit = policy({ rules: [rule('/admin', { allowedGroups: ['admins'], caseSensitive: false })] });
    assert.ok(!allowed(explicit, alice, '/ADMIN'));
  });

  test('escapes are compared as normalised, not case-folded into other characters', () => {
    const enc = policy({ rules: [rule('/caf%C3%A9', { allowedGroups: ['admins'] })] });
    assert.ok(!allowed(enc, alice, '/caf%c3%a9'));
    assert.ok(!allowed(enc, alice, '/CAF%C3%A9/menu'));
  });
});

describe('exemptionCovers: exemptions match the exact case only (exemptions narrowly)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/public/x', '/public', true],
    ['/%70ublic/x', '/public', true],
    ['/PUBLIC/x', '/public', false],
    ['/Public', '/public', false],
    ['/public/X', '/public', true],
    ['/Public/x', '/Public', true],
    ['/public/x', '/Public', false],
  ];
  for (const [path, prefix, want] of cases) {
    test(`${JSON.stringify(path)} under ${JSON.stringify(prefix)} → ${want}`, () => {
      assert.equal(exemptionCovers(pathReadings(path), prefix), want);
    });
  }
});
