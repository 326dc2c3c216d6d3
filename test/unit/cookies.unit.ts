import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  clearCookie,
  cookieNames,
  readCookie,
  serializeCookie,
  stripCookies,
} from '../../src/engine/cookies.js';

describe('readCookie', () => {
  test('finds a cookie among others', () => {
    assert.equal(readCookie('a=1; gatehouse=abc.def; b=2', 'gatehouse'), 'abc.def');
    assert.equal(readCookie('gatehouse=first', 'gatehouse'), 'first');
    assert.equal(readCookie('a=1;gatehouse=tight;b=2', 'gatehouse'), 'tight');
  });

  test('absent cookie or header', () => {
    assert.equal(readCookie(undefined, 'gatehouse'), undefined);
    assert.equal(readCookie('', 'gatehouse'), undefined);
    assert.equal(readCookie('a=1; b=2', 'gatehouse'), undefined);
  });

  test('names must match exactly, not as prefix or suffix', () => {
    assert.equal(readCookie('gatehouse_login=L; gatehouse=S', 'gatehouse'), 'S');
    assert.equal(readCookie('xgatehouse=X; gatehouse=S', 'gatehouse'), 'S');
    assert.equal(readCookie('gatehouse=S; gatehouse_login=L', 'gatehouse_login'), 'L');
    assert.equal(readCookie('__Host-gatehouse=H; gatehouse=P', '__Host-gatehouse'), 'H');
    assert.equal(readCookie('__Host-gatehouse=H', 'gatehouse'), undefined);
  });

  test('the first occurrence wins', () => {
    assert.equal(readCookie('gatehouse=one; gatehouse=two', 'gatehouse'), 'one');
  });

  test('malformed pairs are skipped', () => {
    assert.equal(readCookie('flag; gatehouse=v', 'gatehouse'), 'v');
    assert.equal(readCookie(';;gatehouse=v;', 'gatehouse'), 'v');
    assert.equal(readCookie('gatehouse', 'gatehouse'), undefined);
  });

  test('values: quotes removed, = inside kept, empty allowed', () => {
    assert.equal(readCookie('gatehouse="quoted"', 'gatehouse'), 'quoted');
    assert.equal(readCookie('gatehouse=a=b', 'gatehouse'), 'a=b');
    assert.equal(readCookie('gatehouse=; x=1', 'gatehouse'), '');
  });
});

describe('stripCookies', () => {
  test('removes only our cookies', () => {
    assert.equal(
      stripCookies('a=1; gatehouse=s; b=2; gatehouse_login=l', ['gatehouse', 'gatehouse_login']),
      'a=1; b=2',
    );
  });

  test('keeps similarly named cookies', () => {
    assert.equal(stripCookies('gatehouse2=x; mygatehouse=y', ['gatehouse']), 'gatehouse2=x; mygatehouse=y');
  });

  test('removes every duplicate', () => {
    assert.equal(stripCookies('gatehouse=1; a=1; gatehouse=2', ['gatehouse']), 'a=1');
  });

  test('a header of one cookie: ours (any value, or none) is removed, any other is kept as is', () => {
    assert.equal(stripCookies('gatehouse=s', ['gatehouse', 'gatehouse_login']), undefined);
    assert.equal(stripCookies('gatehouse_login=l', ['gatehouse', 'gatehouse_login']), undefined);
    assert.equal(stripCookies('gatehouse', ['gatehouse']), undefined);
    assert.equal(stripCookies('gatehouse=', ['gatehouse']), undefined);
    assert.equal(stripCookies('theme=dark', ['gatehouse']), 'theme=dark');
    assert.equal(stripCookies('gatehouse2=x', ['gatehouse']), 'gatehouse2=x');
    // Spaces around the name: the general path, which trims, still removes ours.
    assert.equal(stripCookies(' gatehouse=s ', ['gatehouse']), undefined);
    assert.equal(stripCookies('gatehouse =s', ['gatehouse']), undefined);
  });

  test('undefined when nothing is left or nothing was given', () => {
    assert.equal(stripCookies('gatehouse=s', ['gatehouse']), undefined);
    assert.equal(stripCookies(undefined, ['gatehouse']), undefined);
    assert.equal(stripCookies('', ['gatehouse']), undefined);
    assert.equal(stripCookies(' ; ', ['gatehouse']), undefined);
  });

  test('normalises separators and drops empty parts', () => {
    assert.equal(stripCookies('a=1;b=2;;  c=3', []), 'a=1; b=2; c=3');
  });

  test('a name-only part matching our cookie is removed too', () => {
    assert.equal(stripCookies('gatehouse; a=1', ['gatehouse']), 'a=1');
  });
});

describe('cookieNames / serializeCookie / clearCookie', () => {
  test('plain http: base names, no Secure', () => {
    const jar = cookieNames({ secure: false, base: 'gatehouse' });
    assert.deepEqual(jar, {
      session: 'gatehouse',
      login: 'gatehouse_login',
      bind: 'gatehouse_bind',
      secure: false,
    });
    const c = serializeCookie(jar, jar.session, 'v', 3600);
    assert.equal(c, 'gatehouse=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600');
    assert.doesNotMatch(c, /Secure/);
  });

  test('https: __Host- prefix and Secure, Path=/, no Domain', () => {
    const jar = cookieNames({ secure: true, base: 'gatehouse' });
    assert.equal(jar.session, '__Host-gatehouse');
    assert.equal(jar.login, '__Host-gatehouse_login');
    const c = serializeCookie(jar, jar.session, 'v');
    assert.match(c, /^__Host-gatehouse=v;/);
    assert.match(c, /; Secure/);
    assert.match(c, /; Path=\/;/);
    assert.match(c, /; HttpOnly/);
    assert.match(c, /; SameSite=Lax/);
    assert.doesNotMatch(c, /Domain=/i);
    assert.doesNotMatch(c, /Max-Age/, 'session cookie when no max age');
  });

  test('Max-Age is floored and never negative', () => {
    const jar = cookieNames({ secure: false, base: 'g' });
    assert.match(serializeCookie(jar, 'g', 'v', 10.9), /Max-Age=10$/);
    assert.match(serializeCookie(jar, 'g', 'v', -5), /Max-Age=0$/);
  });

  test('clearCookie empties the value with Max-Age=0 and the same attributes', () => {
    const jar = cookieNames({ secure: true, base: 'gatehouse' });
    const c = clearCookie(jar, jar.session);
    assert.equal(c, '__Host-gatehouse=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0');
  });

  test('session.cookieDomain: __Secure- with Domain for session and login; the bind cookie stays host-only', () => {
    const jar = cookieNames({ secure: true, base: 'gatehouse', domain: '.example.com' });
    assert.equal(jar.session, '__Secure-gatehouse');
    assert.equal(jar.login, '__Secure-gatehouse_login');
    assert.equal(jar.bind, '__Host-gatehouse_bind');
    assert.match(serializeCookie(jar, jar.session, 'v'), /; Domain=\.example\.com; Secure/);
    assert.match(serializeCookie(jar, jar.login, 'v'), /; Domain=\.example\.com/);
    assert.doesNotMatch(serializeCookie(jar, jar.bind, 'v'), /Domain=/);
    assert.doesNotMatch(serializeCookie(jar, jar.session, 'v', 60, true), /Domain=/, 'hostOnly');
  });

  test('a serialized cookie reads back', () => {
    const jar = cookieNames({ secure: true, base: 'gatehouse' });
    const set = serializeCookie(jar, jar.session, 'abc.def', 60);
    const pair = set.split(';')[0]!;
    assert.equal(readCookie(`other=1; ${pair}`, jar.session), 'abc.def');
  });
});
