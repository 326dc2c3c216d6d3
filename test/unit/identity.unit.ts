import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { describe, test } from 'node:test';
import { readClaim } from '../../src/identity/claimPath.js';
import { parseCsvLine, toValueList } from '../../src/identity/groupValues.js';
import {
  type ClaimMapping,
  extractIdentity,
  headerSafe,
  IDENTITY_HEADER_NAMES,
  type Identity,
  identityHeaders,
} from '../../src/identity/identity.js';
import { hasControlChar } from './fixtures.js';

/** Header values carry UTF-8 as bytes (one latin1 char per byte); this reads them back. */
function utf8(headerValue: string): string {
  return Buffer.from(headerValue, 'latin1').toString('utf8');
}

const DEFAULT_MAP: ClaimMapping = {
  groupsClaim: 'groups',
  rolesClaim: 'roles',
  usernameClaim: 'preferred_username',
  emailClaim: 'email',
};

describe('toValueList', () => {
  test('an array of strings is kept in order', () => {
    assert.deepEqual(toValueList(['admins', 'dev', 'Ops, EMEA']), ['admins', 'dev', 'Ops, EMEA']);
  });

  test('a CSV string keeps a quoted value with a comma as one value, plus the raw string', () => {
    const raw = 'admins,dev,"Ops, EMEA"';
    const list = toValueList(raw);
    assert.ok(list.includes('admins'));
    assert.ok(list.includes('dev'));
    assert.ok(list.includes('Ops, EMEA'));
    assert.ok(list.includes(raw), 'the original string is kept for exact matching');
    assert.ok(!list.includes('Ops'), 'the quoted value is not split');
    assert.ok(!list.includes('EMEA'));
    assert.ok(!list.includes('"Ops'));
    assert.equal(list.length, 4);
  });

  test('CSV values are trimmed outside quotes', () => {
    assert.deepEqual(toValueList('a, b ,c').slice(0, 3), ['a', 'b', 'c']);
  });

  test('a single string without a comma is one (trimmed) value, no duplicate raw entry', () => {
    assert.deepEqual(toValueList('admins'), ['admins']);
    assert.deepEqual(toValueList('  admins  '), ['admins']);
    assert.deepEqual(toValueList('Domain Admins'), ['Domain Admins']);
  });

  test('empty inputs give an empty list', () => {
    assert.deepEqual(toValueList(undefined), []);
    assert.deepEqual(toValueList(null), []);
    assert.deepEqual(toValueList(''), []);
    assert.deepEqual(toValueList('   '), []);
    assert.deepEqual(toValueList([]), []);
    assert.deepEqual(toValueList(['', '']), []);
  });

  test('numbers and booleans become strings', () => {
    assert.deepEqual(toValueList(42), ['42']);
    assert.deepEqual(toValueList(true), ['true']);
    assert.deepEqual(toValueList([1, 2, 'x']), ['1', '2', 'x']);
  });

  test('objects with name / value / displayName / id are read in that order', () => {
    assert.deepEqual(
      toValueList([
        { name: 'a' },
        { value: 'b' },
        { displayName: 'c' },
        { id: 'd' },
        { name: 'e', displayName: 'E' },
      ]),
      ['a', 'b', 'c', 'd', 'e'],
    );
  });

  test('values without a usable name are skipped', () => {
    assert.deepEqual(toValueList([{ other: 'x' }, null, undefined, [], 'kept']), ['kept']);
    assert.deepEqual(toValueList({ name: 'not-in-an-array' }), []);
  });

  test('duplicates are removed, first occurrence kept', () => {
    assert.deepEqual(toValueList(['a', 'b', 'a', 'c', 'b']), ['a', 'b', 'c']);
    assert.deepEqual(toValueList([{ name: 'a' }, 'a']), ['a']);
    const csv = toValueList('a,a,b');
    assert.deepEqual(csv, ['a', 'b', 'a,a,b']);
  });

  test('escaped quotes inside a quoted CSV value', () => {
    const list = toValueList('"say ""hi""",x');
    assert.ok(list.includes('say "hi"'));
    assert.ok(list.includes('x'));
  });
});

describe('parseCsvLine', () => {
  test('plain fields', () => {
    assert.deepEqual(parseCsvLine('a,b,c'), ['a', 'b', 'c']);
  });
  test('quoted field with a comma and surrounding spaces', () => {
    assert.deepEqual(parseCsvLine('admins, "Ops, EMEA" ,dev'), ['admins', 'Ops, EMEA', 'dev']);
  });
  test('spaces inside quotes are kept', () => {
    assert.deepEqual(parseCsvLine('" padded "'), [' padded ']);
  });
  test('doubled quotes are an escaped quote', () => {
    assert.deepEqual(parseCsvLine('"a""b",c'), ['a"b', 'c']);
  });
  test('empty fields are kept by the parser', () => {
    assert.deepEqual(parseCsvLine('a,,b,'), ['a', '', 'b', '']);
  });
  test('a quote in the middle of an unquoted field is literal', () => {
    assert.deepEqual(parseCsvLine('ab"c,d'), ['ab"c', 'd']);
  });
});

describe('readClaim', () => {
  const claims: Record<string, unknown> = {
    sub: 'u1',
    groups: ['a', 'b'],
    realm_access: { roles: ['realm-admin'] },
    resource_access: { gatehouse: { roles: ['app-admin'] }, 'other.client': { roles: ['x'] } },
    'https://example.com/groups': ['ns-group'],
    list: [{ name: 'first' }],
    nothing: null,
  };

  test('plain claim', () => {
    assert.deepEqual(readClaim(claims, 'groups'), ['a', 'b']);
    assert.equal(readClaim(claims, 'sub'), 'u1');
  });

  test('dotted nested paths', () => {
    assert.deepEqual(readClaim(claims, 'realm_access.roles'), ['realm-admin']);
    assert.deepEqual(readClaim(claims, 'resource_access.gatehouse.roles'), ['app-admin']);
  });

  test('a namespaced claim containing dots is found as-is', () => {
    assert.deepEqual(readClaim(claims, 'https://example.com/groups'), ['ns-group']);
  });

  test('an existing literal name wins over the dotted path', () => {
    const c = { 'a.b': 'literal', a: { b: 'nested' } };
    assert.equal(readClaim(c, 'a.b'), 'literal');
    assert.equal(readClaim({ a: { b: 'nested' } }, 'a.b'), 'nested');
  });

  test('missing paths give undefined', () => {
    assert.equal(readClaim(claims, 'missing'), undefined);
    assert.equal(readClaim(claims, 'realm_access.missing'), undefined);
    assert.equal(readClaim(claims, 'realm_access.roles.deeper'), undefined);
    assert.equal(readClaim(claims, 'sub.length'), undefined, 'no property access on strings');
    assert.equal(readClaim(claims, 'nothing.x'), undefined);
    assert.equal(readClaim(claims, ''), undefined);
  });

  test('arrays are not indexed into', () => {
    assert.equal(readClaim(claims, 'groups.0'), undefined);
    assert.equal(readClaim(claims, 'groups.length'), undefined);
    assert.equal(readClaim(claims, 'list.0.name'), undefined);
  });

  test('prototype keys are never read', () => {
    for (const name of [
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'realm_access.__proto__',
      'realm_access.constructor',
      'constructor.prototype',
      '__proto__.polluted',
    ]) {
      assert.equal(readClaim(claims, name), undefined, name);
    }
  });

  test('a __proto__ claim parsed from JSON is an ordinary own property', () => {
    const parsed = JSON.parse('{"__proto__": ["p"], "x": {"__proto__": {"y": 1}}}') as Record<
      string,
      unknown
    >;
    assert.deepEqual(readClaim(parsed, '__proto__'), ['p']);
    assert.equal(readClaim(parsed, 'x.__proto__.y'), 1);
    assert.equal(({} as Record<string, unknown>).y, undefined, 'no prototype pollution');
  });
});

describe('extractIdentity', () => {
  test('user is preferred_username, then email, then sub', () => {
    assert.equal(
      extractIdentity({ sub: 's', email: 'e@x.com', preferred_username: 'pu' }, DEFAULT_MAP).user,
      'pu',
    );
    assert.equal(extractIdentity({ sub: 's', email: 'e@x.com' }, DEFAULT_MAP).user, 'e@x.com');
    assert.equal(extractIdentity({ sub: 's' }, DEFAULT_MAP).user, 's');
    assert.equal(extractIdentity({ sub: 's', preferred_username: '', email: '' }, DEFAULT_MAP).user, 's');
    assert.equal(extractIdentity({ sub: 's', preferred_username: 42 }, DEFAULT_MAP).user, 's');
  });

  test('all fields are filled from standard claims', () => {
    const id = extractIdentity(
      {
        sub: 'u1',
        email: 'alice@example.com',
        email_verified: true,
        name: 'Alice A',
        preferred_username: 'alice',
        groups: 'admins,dev',
        roles: ['r1'],
      },
      DEFAULT_MAP,
    );
    assert.deepEqual(id, {
      sub: 'u1',
      user: 'alice',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice A',
      preferredUsername: 'alice',
      groups: ['admins', 'dev', 'admins,dev'],
      roles: ['r1'],
    });
  });

  test('absent optional claims leave keys out', () => {
    const id = extractIdentity({ sub: 'u1' }, DEFAULT_MAP);
    assert.deepEqual(id, { sub: 'u1', user: 'u1', groups: [], roles: [] });
  });

  test('email_verified parsing', () => {
    const ev = (v: unknown) =>
      extractIdentity({ sub: 's', email: 'a@b.c', email_verified: v }, DEFAULT_MAP).emailVerified;
    assert.equal(ev(true), true);
    assert.equal(ev('true'), true);
    assert.equal(ev(false), false);
    assert.equal(ev('false'), false);
    assert.equal(ev(0), false);
    assert.equal(ev(undefined), undefined);
  });

  test('a missing or empty sub is an error', () => {
    assert.throws(() => extractIdentity({ email: 'a@b.c' }, DEFAULT_MAP), /sub/);
    assert.throws(() => extractIdentity({ sub: '' }, DEFAULT_MAP), /sub/);
    assert.throws(() => extractIdentity({ sub: 12 }, DEFAULT_MAP), /sub/);
  });

  test('custom claim names and paths', () => {
    const map: ClaimMapping = {
      groupsClaim: 'https://example.com/groups',
      rolesClaim: 'resource_access.gatehouse.roles',
      usernameClaim: 'upn',
      emailClaim: 'mail',
    };
    const id = extractIdentity(
      {
        sub: 'u2',
        upn: 'bob@corp',
        mail: 'bob@corp.example',
        email: 'ignored@example.com',
        preferred_username: 'ignored',
        groups: ['ignored'],
        'https://example.com/groups': ['ns-a', 'ns-b'],
        resource_access: { gatehouse: { roles: ['editor'] } },
      },
      map,
    );
    assert.equal(id.user, 'bob@corp');
    assert.equal(id.preferredUsername, 'bob@corp');
    assert.equal(id.email, 'bob@corp.example');
    assert.deepEqual(id.groups, ['ns-a', 'ns-b']);
    assert.deepEqual(id.roles, ['editor']);
  });
});

describe('identityHeaders', () => {
  const alice: Identity = {
    sub: 'u1',
    user: 'alice',
    email: 'alice@example.com',
    preferredUsername: 'alice',
    groups: ['admins', 'dev'],
    roles: [],
  };

  test('standard headers', () => {
    assert.deepEqual(identityHeaders(alice), {
      'x-forwarded-user': 'alice',
      'x-forwarded-email': 'alice@example.com',
      'x-forwarded-preferred-username': 'alice',
      'x-forwarded-groups': 'admins,dev',
    });
  });

  test('optional headers are omitted, not empty', () => {
    const h = identityHeaders({ sub: 's', user: 's', groups: [], roles: [] });
    assert.deepEqual(h, { 'x-forwarded-user': 's' });
  });

  test('groups longer than the limit are cut at a group boundary and flagged', () => {
    const groups = ['aaaa', 'bbbb', 'cccc', 'dddd'];
    const h = identityHeaders({ ...alice, groups }, 14);
    assert.equal(h['x-forwarded-groups'], 'aaaa,bbbb,cccc');
    assert.equal(h['x-forwarded-groups-truncated'], 'true');
  });

  test('exactly at the limit is not truncated', () => {
    const h = identityHeaders({ ...alice, groups: ['aaaa', 'bbbb'] }, 9);
    assert.equal(h['x-forwarded-groups'], 'aaaa,bbbb');
    assert.equal(h['x-forwarded-groups-truncated'], undefined);
  });

  test('the limit counts bytes on the wire, not characters', () => {
    // 'é' is two bytes in UTF-8: "ééé,ééé2" is 14 bytes.
    const h = identityHeaders({ ...alice, groups: ['ééé', 'ééé2'] }, 12);
    assert.equal(utf8(h['x-forwarded-groups']!), 'ééé');
    assert.equal(h['x-forwarded-groups-truncated'], 'true');
    assert.equal(
      identityHeaders({ ...alice, groups: ['ééé', 'ééé2'] }, 14)['x-forwarded-groups-truncated'],
      undefined,
    );
  });

  for (const name of ['李雷', 'Андрей', 'José', 'emoji-😀']) {
    test(`non-ASCII identity (${name}) gives valid header values carrying the UTF-8 bytes`, () => {
      const h = identityHeaders({
        sub: 's',
        user: name,
        preferredUsername: name,
        email: `${name}@example.com`,
        groups: [name, 'plain'],
        roles: [],
      });
      for (const [k, v] of Object.entries(h)) {
        assert.doesNotThrow(() => validateHeaderValue(k, v), `${k}: ${v}`);
      }
      assert.equal(utf8(h['x-forwarded-user']!), name);
      assert.equal(utf8(h['x-forwarded-preferred-username']!), name);
      assert.equal(utf8(h['x-forwarded-email']!), `${name}@example.com`);
      assert.equal(utf8(h['x-forwarded-groups']!), `${name},plain`);
    });
  }

  test('ASCII values are passed through unchanged', () => {
    assert.equal(headerSafe('alice@example.com'), 'alice@example.com');
  });

  test('500 large groups stay under the default limit', () => {
    const groups = Array.from({ length: 500 }, (_, i) => `group-with-a-fairly-long-name-${i}`);
    const h = identityHeaders({ ...alice, groups });
    const value = h['x-forwarded-groups']!;
    assert.ok(Buffer.byteLength(value) <= 8192);
    assert.equal(h['x-forwarded-groups-truncated'], 'true');
    const sent = value.split(',');
    assert.deepEqual(sent, groups.slice(0, sent.length), 'whole groups, in order');
  });

  test('CR/LF and other control characters are stripped from every header', () => {
    const h = identityHeaders({
      sub: 's',
      user: 'alice\r\nX-Injected: 1',
      email: 'a@b.c\n',
      preferredUsername: 'al\u0000ice',
      groups: ['ad\rmins', 'de\u007fv'],
      roles: [],
    });
    for (const [k, v] of Object.entries(h)) {
      assert.equal(hasControlChar(v), false, k);
    }
    assert.equal(h['x-forwarded-user'], 'aliceX-Injected: 1');
    assert.equal(h['x-forwarded-email'], 'a@b.c');
    assert.equal(h['x-forwarded-preferred-username'], 'alice');
    assert.equal(h['x-forwarded-groups'], 'admins,dev');
  });

  test('headerSafe keeps ordinary text and tabs are removed', () => {
    assert.equal(headerSafe('Ops, EMEA'), 'Ops, EMEA');
    assert.equal(headerSafe('a\tb'), 'ab');
  });

  test('every produced header is on the anti-spoofing strip list', () => {
    const h = identityHeaders({ ...alice, groups: ['x'.repeat(300), 'y'] }, 300);
    for (const k of Object.keys(h)) {
      assert.ok((IDENTITY_HEADER_NAMES as readonly string[]).includes(k), k);
    }
  });
});
