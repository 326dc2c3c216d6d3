/**
 * Path readings: decisions must hold however the upstream reads the path — `;params` dropped per
 * segment (Tomcat, Jetty, Spring) or `%2F` decoded before routing (gunicorn, older Go).
 * (Found as open bugs A and B while writing this suite; fixed with pathReadings().)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exemptionCovers } from '../../src/authz/pathPrefix.js';
import { pathReadings } from '../../src/authz/pathReadings.js';
import { authorize } from '../../src/authz/policy.js';
import { identity } from './fixtures.js';

const adminRule = {
  allowedEmailDomains: [],
  allowedUsers: [],
  allowedGroups: [],
  allowedRoles: [],
  allowUnverifiedEmail: false,
  rules: [
    {
      pathPrefix: '/admin',
      allowedEmailDomains: [],
      allowedUsers: [],
      allowedGroups: ['admins'],
      allowedRoles: [],
    },
  ],
};

describe('`;` path parameters cannot escape skipAuth or path rules (Tomcat / Jetty / Spring upstreams)', () => {
  // src/authz/normalizePath.ts leaves `;` untouched and src/authz/pathPrefix.ts (exemptionCovers) compares
  // segments as plain strings, while servlet containers strip `;params` from every segment before
  // routing and resolve `..;` as `..`:
  //  - skipAuth [/public] + GET /public/..;/admin → no login at all; Tomcat serves /admin
  //    (the well-known `..;/` bypass);
  //  - rule /admin + GET /admin;x=1 → the rule is not applied; Tomcat serves /admin.
  // Fix options: strip `;...` from each segment before matching (and forwarding), or refuse
  // paths that contain `;` in a segment.
  test('/public/..;/admin is not covered by skipAuth /public', () => {
    assert.equal(exemptionCovers(pathReadings('/public/..;/admin'), '/public'), false);
  });
  for (const path of ['/admin;x=1', '/admin;jsessionid=ABC/users', '/public/..;/admin']) {
    test(`${path} is subject to the /admin rule`, () => {
      assert.equal(authorize(adminRule, identity({ groups: ['dev'] }), pathReadings(path)).ok, false);
    });
  }
});

describe('an encoded slash cannot escape path rules for upstreams that decode %2F', () => {
  // src/authz/normalizePath.ts keeps `%2F` encoded (deliberately: it is not a separator for the
  // gateway), so /admin%2Fusers is not under the /admin rule; WSGI servers (gunicorn/Flask/Django
  // decode PATH_INFO), Go before 1.22 (ServeMux routes on the decoded URL.Path) and others serve
  // it as /admin/users. Either match rules against the %2F-decoded form too, or refuse %2F (and
  // %5C) in paths by default, as Tomcat does.
  for (const path of ['/admin%2Fusers', '/admin%2fusers']) {
    test(`${path} is subject to the /admin rule`, () => {
      assert.equal(authorize(adminRule, identity({ groups: ['dev'] }), pathReadings(path)).ok, false);
    });
  }
});

describe('an encoded # cannot escape path rules for upstreams that decode before parsing', () => {
  // normalizePath keeps `%23` encoded; a server that decodes the path and then parses it again
  // ends the path at the `#`, so /admin%23x is /admin there.
  for (const path of ['/admin%23', '/admin%23x', '/Admin%23/x']) {
    test(`${path} is subject to the /admin rule`, () => {
      assert.equal(authorize(adminRule, identity({ groups: ['dev'] }), pathReadings(path)).ok, false);
    });
  }
  test('/public%23/../admin is not covered by skipAuth /public', () => {
    assert.equal(exemptionCovers(pathReadings('/public%23/../admin'), '/public'), false);
  });
  test('a legitimate %23 inside an exempt path stays exempt (every reading is under it)', () => {
    assert.equal(exemptionCovers(pathReadings('/public/tags/C%23'), '/public'), true);
  });
});

describe('with proxy.allowEncodedPercent, a double-decoding upstream is a reading too', () => {
  // %25 is refused by default (refuseTarget); an operator who allows it still gets rules that
  // hold for an upstream decoding twice: /%2561dmin is /admin there, /admin%252fx is /admin/x.
  for (const path of ['/%2561dmin', '/admin%252fusers', '/public/%252e%252e/admin']) {
    test(`${path} is subject to the /admin rule`, () => {
      assert.equal(authorize(adminRule, identity({ groups: ['dev'] }), pathReadings(path)).ok, false);
    });
  }
  test('/public/%252e%252e/admin is not covered by skipAuth /public', () => {
    assert.equal(exemptionCovers(pathReadings('/public/%252e%252e/admin'), '/public'), false);
  });
});

describe('a backslash is read as a slash by some upstreams (refused before; still a reading)', () => {
  for (const path of ['/public\\..\\admin', '/x\\..\\admin', '\\admin']) {
    test(`${JSON.stringify(path)} is subject to the /admin rule`, () => {
      assert.equal(authorize(adminRule, identity({ groups: ['dev'] }), pathReadings(path)).ok, false);
    });
  }
  test('/public\\..\\admin is not covered by skipAuth /public', () => {
    assert.equal(exemptionCovers(pathReadings('/public\\..\\admin'), '/public'), false);
  });
});

const ADMIN = (path: string) => authorize(adminRule, identity({ groups: ['dev'] }), pathReadings(path)).ok;

describe('F1: case folding beyond ASCII (.NET OrdinalIgnoreCase upper-cases, others lower-case)', () => {
  // ASP.NET Core routes with OrdinalIgnoreCase, which upper-cases: `ı` (U+0131) is `I`, `ſ`
  // (U+017F) is `S`; lower-casing makes the Kelvin sign (U+212A) a `k`.
  for (const path of ['/adm%C4%B1n', '/adm%c4%b1n/x', '/ADM%C4%B1N', '/public/../adm%C4%B1n']) {
    test(`${path} is subject to the /admin rule`, () => assert.equal(ADMIN(path), false));
  }
  const rule = (pathPrefix: string, caseSensitive?: boolean) => ({
    ...adminRule,
    rules: [{ ...adminRule.rules[0]!, pathPrefix, caseSensitive }],
  });
  test('ſ folds to S and the Kelvin sign to k; ß to SS (folding may change the length)', () => {
    const dev = identity({ groups: ['dev'] });
    assert.equal(authorize(rule('/secret'), dev, pathReadings('/%C5%BFecret')).ok, false);
    assert.equal(authorize(rule('/key'), dev, pathReadings('/%E2%84%AAey/x')).ok, false);
    assert.equal(authorize(rule('/strasse'), dev, pathReadings('/stra%C3%9Fe')).ok, false);
  });
  test('a caseSensitive rule does not fold', () => {
    assert.equal(
      authorize(rule('/admin', true), identity({ groups: ['dev'] }), pathReadings('/adm%C4%B1n')).ok,
      true,
    );
  });
  test('skipAuth is not widened: /publ%C4%B1c is not /public; /public/%C4%B1 stays exempt', () => {
    assert.equal(exemptionCovers(pathReadings('/publ%C4%B1c/x'), '/public'), false);
    assert.equal(exemptionCovers(pathReadings('/public/%C4%B1'), '/public'), true);
    assert.equal(exemptionCovers(pathReadings('/public/caf%C3%A9'), '/public'), true);
  });
  test('other non-ASCII paths are not covered', () => {
    for (const path of ['/caf%C3%A9', '/adm%C3%AEn', '/%C4%B1', '/administrat%C4%B1on']) {
      assert.equal(ADMIN(path), true, path);
    }
  });
});

describe('F4: Windows / IIS readings (trailing dots and spaces per segment, NFKC / best-fit)', () => {
  for (const path of [
    '/admin.',
    '/admin%2e',
    '/admin%20',
    '/admin./x',
    '/admin%20.%20/x',
    '/admin...',
    '/%EF%BD%81dmin',
    '/%EF%BC%A1DMIN/x',
    '/admin./%EF%BC%8E%EF%BC%8E/x',
  ]) {
    test(`${path} is subject to the /admin rule`, () => assert.equal(ADMIN(path), false));
  }
  for (const path of [
    '/public./../admin',
    '/public/..%20/admin',
    '/public/..%20./admin',
    '/public/%EF%BC%8E%EF%BC%8E/admin',
    '/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin',
    '/%EF%BD%90ublic/x',
  ]) {
    test(`${path} is not covered by skipAuth /public`, () => {
      assert.equal(exemptionCovers(pathReadings(path), '/public'), false);
    });
  }
  test('ordinary exempt paths stay exempt', () => {
    for (const path of ['/public/x%20', '/public/a.b', '/public/x./y', '/public/%EF%BD%81']) {
      assert.equal(exemptionCovers(pathReadings(path), '/public'), true, path);
    }
  });
});

describe('F5: an encoded ; is read like ; (servers that decode before dropping ;params)', () => {
  for (const path of ['/admin%3B/panel', '/admin%3bx=1', '/public/..%3B/admin', '/public/..%3b/admin']) {
    test(`${path} is subject to the /admin rule`, () => assert.equal(ADMIN(path), false));
  }
  test('/public/..%3B/admin is not covered by skipAuth /public', () => {
    assert.equal(exemptionCovers(pathReadings('/public/..%3B/admin'), '/public'), false);
  });
});

describe('pathReadings', () => {
  test('a plain path has one reading', () => {
    assert.deepEqual(pathReadings('/admin/users'), ['/admin/users']);
  });
  test('each ambiguity adds the lenient reading', () => {
    assert.deepEqual(pathReadings('/admin%23x'), ['/admin%23x', '/admin']);
    assert.deepEqual(pathReadings('/a%252fb'), ['/a%252fb', '/a/b']);
    assert.deepEqual(pathReadings('/a\\b'), ['/a\\b', '/a/b']);
  });
  test('the decoded, NFKC and Windows readings (the forwarded path is always the first)', () => {
    assert.deepEqual(pathReadings('/adm%C4%B1n'), ['/adm%C4%B1n', '/adm\u0131n']);
    assert.deepEqual(pathReadings('/%EF%BD%81dmin'), ['/%EF%BD%81dmin', '/\uff41dmin', '/admin']);
    assert.deepEqual(pathReadings('/admin%20.%20/x'), ['/admin%20.%20/x', '/admin . /x', '/admin/x']);
    assert.deepEqual(pathReadings('/admin%3B/panel'), ['/admin%3B/panel', '/admin/panel']);
  });
  test('clean paths take the fast path: one reading, the same string', () => {
    for (const path of ['/api/v1/items/123', '/a/b.c/d', '/v1.2/x', '/']) {
      assert.deepEqual(pathReadings(path), [path]);
    }
  });
});
