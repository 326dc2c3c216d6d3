import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { safeReturnTo } from '../../src/engine/returnTo.js';
import { hasControlChar } from './fixtures.js';

const HTTP_PUBLIC = 'http://127.0.0.1:4180';
const HTTPS_PUBLIC = 'https://auth.example.com';

/** A result the browser can only resolve against our own origin. */
function assertLocal(result: string, label: string): void {
  assert.ok(result.startsWith('/'), `${label}: ${result}`);
  assert.ok(!result.startsWith('//'), `${label}: protocol-relative ${result}`);
  assert.ok(!result.includes('\\'), `${label}: backslash in ${result}`);
  assert.equal(hasControlChar(result), false, `${label}: control character`);
  assert.equal(new URL(result, HTTP_PUBLIC).origin, new URL(HTTP_PUBLIC).origin, label);
}

describe('safeReturnTo: open-redirect attempts all become /', () => {
  const attacks: string[] = [
    '//evil.com',
    '//evil.com/path',
    '///evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '\\/evil.com',
    '/\\/evil.com',
    'https://evil.com',
    'https://evil.com/',
    'http://evil.com',
    'HTTPS://EVIL.COM',
    'https:evil.com',
    'http://127.0.0.1:4180@evil.com',
    'http://127.0.0.1:4180@evil.com/',
    'http://user:pass@127.0.0.1:4180/x',
    'https://127.0.0.1:4180/x',
    'http://127.0.0.1:4181/x',
    'http://localhost:4180/x',
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    ' javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'data:',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'ftp://evil.com/',
    'evil.com',
    'evil.com/path',
    '/\tevil.com',
    '/\t/evil.com',
    '\t//evil.com',
    '/\r\n/evil.com',
    '/\nLocation: https://evil.com',
    '/a\u0000b',
    '/a\u007fb',
    `/${'a'.repeat(2048)}`,
    '',
  ];
  for (const rd of attacks) {
    test(JSON.stringify(rd.length > 60 ? `${rd.slice(0, 30)}…(${rd.length})` : rd), () => {
      assert.equal(safeReturnTo(rd, HTTP_PUBLIC, []), '/');
    });
  }

  test('null and undefined', () => {
    assert.equal(safeReturnTo(null, HTTP_PUBLIC, []), '/');
    assert.equal(safeReturnTo(undefined, HTTP_PUBLIC, []), '/');
  });
});

describe('safeReturnTo: paths that normalise into //host become /', () => {
  // URL parsing resolves dot segments (also %2e ones): `/.//evil.com` has the pathname `//evil.com`,
  // which a browser reads as a protocol-relative URL to another host.
  for (const rd of [
    '/.//evil.com',
    '/..//evil.com',
    '/a/..//evil.com',
    '/%2e//evil.com',
    '/%2E%2E//evil.com',
    '/./%2e/.//evil.com',
    'http://127.0.0.1:4180//evil.com',
    'http://127.0.0.1:4180/.//evil.com',
  ]) {
    test(JSON.stringify(rd), () => {
      const out = safeReturnTo(rd, HTTP_PUBLIC, []);
      assertLocal(out, rd);
      assert.equal(out, '/');
    });
  }
});

describe('safeReturnTo: encoded tricks stay on our origin', () => {
  for (const rd of [
    '/%0d%0aLocation:x',
    '/%0d%0aSet-Cookie:%20a=b',
    '/%2fevil.com',
    '/%5cevil.com',
    '/%09/evil.com',
  ]) {
    test(JSON.stringify(rd), () => {
      const out = safeReturnTo(rd, HTTP_PUBLIC, []);
      assertLocal(out, rd);
      // Percent-encoded bytes are never decoded into the Location value.
      assert.doesNotMatch(out, /[\r\n]/);
    });
  }
});

describe('safeReturnTo: allowed targets', () => {
  test('a same-origin path with query and fragment is kept', () => {
    assert.equal(safeReturnTo('/a/b?x=1#h', HTTP_PUBLIC, []), '/a/b?x=1#h');
  });

  test('the root path', () => {
    assert.equal(safeReturnTo('/', HTTP_PUBLIC, []), '/');
  });

  test('dot segments inside a path are resolved, staying local', () => {
    assert.equal(safeReturnTo('/a/../b', HTTP_PUBLIC, []), '/b');
  });

  test('a same-origin absolute URL becomes a path', () => {
    assert.equal(safeReturnTo('http://127.0.0.1:4180/dash?tab=2#top', HTTP_PUBLIC, []), '/dash?tab=2#top');
    assert.equal(safeReturnTo('HTTP://127.0.0.1:4180/x', HTTP_PUBLIC, []), '/x');
    assert.equal(safeReturnTo('https://auth.example.com/x', HTTPS_PUBLIC, []), '/x');
    assert.equal(safeReturnTo('https://auth.example.com:443/x', HTTPS_PUBLIC, []), '/x');
  });

  test('an allow-listed host (exact) over https', () => {
    assert.equal(
      safeReturnTo('https://app.example.org/x?y=1', HTTPS_PUBLIC, ['app.example.org']),
      'https://app.example.org/x?y=1',
    );
    assert.equal(
      safeReturnTo('https://APP.example.org/x', HTTPS_PUBLIC, ['app.example.org']),
      'https://app.example.org/x',
    );
    assert.equal(
      safeReturnTo('https://app.example.org/x', HTTPS_PUBLIC, ['APP.Example.org']),
      'https://app.example.org/x',
    );
  });

  test('exact entries do not match subdomains or look-alikes', () => {
    assert.equal(safeReturnTo('https://sub.app.example.org/', HTTPS_PUBLIC, ['app.example.org']), '/');
    assert.equal(safeReturnTo('https://app.example.org.evil.com/', HTTPS_PUBLIC, ['app.example.org']), '/');
  });

  test('a .suffix entry allows subdomains only', () => {
    const allow = ['.example.com'];
    assert.equal(safeReturnTo('https://app.example.com/x', HTTPS_PUBLIC, allow), 'https://app.example.com/x');
    assert.equal(safeReturnTo('https://a.b.example.com/', HTTPS_PUBLIC, allow), 'https://a.b.example.com/');
    assert.equal(safeReturnTo('https://evilexample.com/', HTTPS_PUBLIC, allow), '/');
    assert.equal(safeReturnTo('https://example.com.evil.org/', HTTPS_PUBLIC, allow), '/');
  });

  test('http to an allow-listed host is refused when we run on https', () => {
    assert.equal(safeReturnTo('http://app.example.com/x', HTTPS_PUBLIC, ['.example.com']), '/');
    assert.equal(safeReturnTo('http://app.example.org/x', HTTPS_PUBLIC, ['app.example.org']), '/');
  });

  test('http to an allow-listed host is accepted when we run on plain http', () => {
    assert.equal(
      safeReturnTo('http://app.local:3000/x', HTTP_PUBLIC, ['app.local']),
      'http://app.local:3000/x',
    );
  });

  test('userinfo is refused even on an allow-listed host', () => {
    assert.equal(safeReturnTo('https://user@app.example.com/', HTTPS_PUBLIC, ['.example.com']), '/');
    assert.equal(safeReturnTo('https://app.example.com@evil.com/', HTTPS_PUBLIC, ['.example.com']), '/');
  });

  test('a value at the length limit is accepted, one more is not', () => {
    const atLimit = `/${'a'.repeat(2047)}`;
    assert.equal(safeReturnTo(atLimit, HTTP_PUBLIC, []), atLimit);
    assert.equal(safeReturnTo(`${atLimit}a`, HTTP_PUBLIC, []), '/');
  });

  test('the limit holds after URL parsing too (a `"` becomes %22: a 2 KiB rd must not store 6 KiB)', () => {
    const quotes = `/${'"'.repeat(2047)}`;
    assert.equal(safeReturnTo(quotes, HTTP_PUBLIC, []), '/');
    assert.equal(safeReturnTo('/"a"', HTTP_PUBLIC, []), '/%22a%22');
  });
});
