import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizePath, normalizeUrl } from '../../src/authz/normalizePath.js';

describe('normalizePath', () => {
  const cases: Array<[string, string]> = [
    // already canonical: untouched
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b/'],
    ['/a%20b', '/a%20b'],
    // duplicate slashes collapse
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['//', '/'],
    // dot segments are resolved and never climb above the root
    ['/./admin', '/admin'],
    ['/public/../admin', '/admin'],
    ['/a/./b/../c/', '/a/c/'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/..', '/'],
    ['/../../etc/passwd', '/etc/passwd'],
    // percent-encoded unreserved characters are decoded ...
    ['/%61dmin', '/admin'],
    ['/%7Euser', '/~user'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    // ... other escapes stay encoded (upper-cased), and nothing is decoded twice
    ['/a%2fb', '/a%2Fb'],
    ['/a%2Fb', '/a%2Fb'],
    ['/%252e%252e/admin', '/%252e%252e/admin'],
    ['/a/..%2Fb', '/a/..%2Fb'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    // case is kept: rules compare case-insensitively themselves, the upstream gets what was sent
    ['/Admin', '/Admin'],
    ['/%41dmin', '/Admin'],
    ['/ad%6Din', '/admin'],
    ['/admin%23', '/admin%23'],
    // a backslash is not a separator (such targets are refused before: see refuseTarget); it
    // used to be read as `/`, which hid the ambiguity instead of refusing it
    ['/\\admin', '/\\admin'],
    ['\\admin', '/\\admin'],
    ['/public\\..\\admin', '/public\\..\\admin'],
    // a missing leading slash is added
    ['admin', '/admin'],
  ];
  for (const [input, want] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => {
      assert.equal(normalizePath(input), want);
    });
  }

  test('idempotent', () => {
    for (const [input] of cases) {
      const once = normalizePath(input);
      assert.equal(normalizePath(once), once, input);
    }
  });

  test('the result never starts with // and never contains a dot segment', () => {
    for (const [input] of cases) {
      const out = normalizePath(input);
      assert.ok(!out.startsWith('//'), input);
      assert.ok(!out.split('/').some((s) => s === '.' || s === '..'), `${input} → ${out}`);
    }
  });
});

describe('normalizeUrl', () => {
  test('normalises the path and keeps the query verbatim', () => {
    assert.deepEqual(normalizeUrl('/a/../b?x=/../y&z=%2e'), { path: '/b', url: '/b?x=/../y&z=%2e' });
  });

  test('without a query', () => {
    assert.deepEqual(normalizeUrl('//admin'), { path: '/admin', url: '/admin' });
  });

  test('an empty query is kept', () => {
    assert.deepEqual(normalizeUrl('/x?'), { path: '/x', url: '/x?' });
  });
});
