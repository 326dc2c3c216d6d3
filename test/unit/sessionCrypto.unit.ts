import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LoginCookieCodec } from '../../src/engine/loginCookie.js';
import { SessionIdCodec, storeKeyFor } from '../../src/session/cookieCodec.js';
import { TokenSealer } from '../../src/session/tokenSealer.js';

const SECRET_A = 'secret-A-0123456789-0123456789-0123456789';
const SECRET_B = 'secret-B-0123456789-0123456789-0123456789';

/** Flips one character of `s` at `i` to another base64url character. */
function flip(s: string, i: number): string {
  const c = s[i] === 'A' ? 'B' : 'A';
  return s.slice(0, i) + c + s.slice(i + 1);
}

describe('SessionIdCodec', () => {
  const codec = new SessionIdCodec([SECRET_A]);

  test('mint → open roundtrip yields the store key', () => {
    const m = codec.mint();
    assert.equal(codec.open(m.cookieValue), m.storeKey);
    assert.equal(m.storeKey, storeKeyFor(m.id));
    assert.ok(m.cookieValue.startsWith(`${m.id}.`));
  });

  test('the cookie is small and cookie-safe', () => {
    const m = codec.mint();
    assert.ok(m.cookieValue.length < 200, `${m.cookieValue.length} bytes`);
    assert.match(m.cookieValue, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  test('the store key does not reveal the id or the cookie', () => {
    const m = codec.mint();
    assert.notEqual(m.storeKey, m.id);
    assert.ok(!m.storeKey.includes(m.id));
    assert.ok(!m.cookieValue.includes(m.storeKey));
  });

  test('every mint is a new id', () => {
    const ids = new Set(Array.from({ length: 100 }, () => codec.mint().id));
    assert.equal(ids.size, 100);
  });

  test('a tampered tag is refused', () => {
    const m = codec.mint();
    const dot = m.cookieValue.indexOf('.');
    for (const i of [dot + 1, m.cookieValue.length - 2]) {
      assert.equal(codec.open(flip(m.cookieValue, i)), undefined, `flip at ${i}`);
    }
  });

  test('a tampered id is refused', () => {
    const m = codec.mint();
    assert.equal(codec.open(flip(m.cookieValue, 0)), undefined);
    assert.equal(codec.open(flip(m.cookieValue, 20)), undefined);
  });

  test('a tag from another id is refused', () => {
    const a = codec.mint();
    const b = codec.mint();
    const mixed = `${a.id}.${b.cookieValue.split('.')[1]}`;
    assert.equal(codec.open(mixed), undefined);
  });

  test('a cookie signed with another secret is refused', () => {
    const other = new SessionIdCodec([SECRET_B]).mint();
    assert.equal(codec.open(other.cookieValue), undefined);
  });

  test('a previous secret is still accepted during rotation, new cookies use the new secret', () => {
    const old = new SessionIdCodec([SECRET_A]).mint();
    const rotated = new SessionIdCodec([SECRET_B, SECRET_A]);
    assert.equal(rotated.open(old.cookieValue), old.storeKey);
    const fresh = rotated.mint();
    assert.equal(new SessionIdCodec([SECRET_B]).open(fresh.cookieValue), fresh.storeKey);
    assert.equal(new SessionIdCodec([SECRET_A]).open(fresh.cookieValue), undefined);
  });

  test('garbage of any shape is refused without throwing', () => {
    const m = codec.mint();
    const garbage = [
      undefined,
      '',
      'x',
      '.',
      m.cookieValue.slice(0, -1),
      `${m.cookieValue}A`,
      `${m.id}`,
      `${m.id}.`,
      m.cookieValue.replace('.', 'A'),
      `${m.cookieValue.slice(0, 42)}..${m.cookieValue.slice(44)}`,
      'A'.repeat(66),
      `${'A'.repeat(43)}.${'A'.repeat(22)}`,
      `${'é'.repeat(43)}.${'A'.repeat(22)}`,
      'x'.repeat(10_000),
    ];
    for (const g of garbage) assert.equal(codec.open(g), undefined, JSON.stringify(g)?.slice(0, 40));
  });
});

describe('TokenSealer', () => {
  const tokens = JSON.stringify({
    accessToken: 'at-SECRET-VALUE',
    refreshToken: 'rt-SECRET-VALUE',
    idToken: 'id.tok.en',
  });
  /** The associated data: a record's store key. */
  const KEY = 'store-key-of-bob-0123456789abcdefghijklmnop';

  test('seal → open roundtrip', () => {
    const s = new TokenSealer([SECRET_A]);
    assert.equal(s.open(s.seal(tokens, KEY), KEY), tokens);
    assert.equal(s.open(s.seal('', KEY), KEY), '');
    const unicode = 'ünïcødé ✓';
    assert.equal(s.open(s.seal(unicode, KEY), KEY), unicode);
  });

  test('the sealed value contains no plaintext', () => {
    const sealed = new TokenSealer([SECRET_A]).seal(tokens, KEY);
    assert.ok(!sealed.includes('SECRET-VALUE'));
    // Not 'at-' alone: three characters turn up in random base64url now and then (CI saw it).
    assert.ok(!sealed.includes('at-SECRET'));
    assert.ok(!Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1').includes('SECRET-VALUE'));
    assert.match(sealed, /^v2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  test('sealing twice gives different ciphertexts (random IV)', () => {
    const s = new TokenSealer([SECRET_A]);
    assert.notEqual(s.seal(tokens, KEY), s.seal(tokens, KEY));
  });

  test('tampering with the ciphertext, IV or key id throws', () => {
    const s = new TokenSealer([SECRET_A]);
    const sealed = s.seal(tokens, KEY);
    const [v, id, iv, body] = sealed.split('.') as [string, string, string, string];
    assert.throws(() => s.open(`${v}.${id}.${iv}.${flip(body, 5)}`, KEY));
    assert.throws(() => s.open(`${v}.${id}.${iv}.${flip(body, body.length - 3)}`, KEY), 'auth tag');
    assert.throws(() => s.open(`${v}.${id}.${flip(iv, 2)}.${body}`, KEY));
    assert.throws(() => s.open(`${v}.${flip(id, 1)}.${iv}.${body}`, KEY), /no longer configured/);
    assert.throws(() => s.open(`v3.${id}.${iv}.${body}`, KEY), /unknown format/);
    assert.throws(() => s.open('garbage', KEY), /unknown format/);
    assert.throws(() => s.open(`${v}.${id}.${iv}`, KEY), /unknown format/);
    assert.throws(() => s.open(`${v}.${id}.${iv}.AAAA`, KEY), /truncated/);
  });

  test('a blob moved to another record (other store key) does not open', () => {
    const s = new TokenSealer([SECRET_A]);
    const sealed = s.seal(tokens, KEY);
    assert.throws(() => s.open(sealed, 'store-key-of-alice-0123456789abcdefghijklm'));
    assert.throws(() => s.open(sealed, ''));
    assert.throws(() => s.open(sealed, `${KEY}x`));
  });

  test('blobs sealed without associated data (v1, before records were authenticated) are refused', () => {
    const s = new TokenSealer([SECRET_A]);
    const [, id, iv, body] = s.seal(tokens, KEY).split('.') as [string, string, string, string];
    assert.throws(() => s.open(`v1.${id}.${iv}.${body}`, KEY), /unknown format/);
  });

  test('a value sealed under another secret cannot be opened', () => {
    const sealed = new TokenSealer([SECRET_B]).seal(tokens, KEY);
    assert.throws(() => new TokenSealer([SECRET_A]).open(sealed, KEY));
  });

  test('a rotated secret list opens old values and seals with the new secret', () => {
    const old = new TokenSealer([SECRET_A]).seal(tokens, KEY);
    const rotated = new TokenSealer([SECRET_B, SECRET_A]);
    assert.equal(rotated.open(old, KEY), tokens);
    const fresh = rotated.seal(tokens, KEY);
    assert.equal(new TokenSealer([SECRET_B]).open(fresh, KEY), tokens);
    assert.throws(() => new TokenSealer([SECRET_A]).open(fresh, KEY));
  });
});

describe('LoginCookieCodec', () => {
  const codec = new LoginCookieCodec(SECRET_A);

  test('fresh → encode → decode roundtrip', () => {
    const s = codec.fresh(1_700_000_000);
    assert.equal(s.logins, 0);
    assert.equal(s.windowStartSec, 1_700_000_000);
    assert.equal(s.browserId.length, 22);
    assert.deepEqual(codec.decode(codec.encode(s)), s);
  });

  test('login counts survive the roundtrip', () => {
    const s = { ...codec.fresh(100), logins: 4 };
    assert.deepEqual(codec.decode(codec.encode(s)), s);
  });

  test('a fresh state has a new browser id each time', () => {
    assert.notEqual(codec.fresh(1).browserId, codec.fresh(1).browserId);
  });

  test('changing the login count or window (resetting the loop guard) is detected', () => {
    const s = { ...codec.fresh(100), logins: 5 };
    const [id, , start, tag] = codec.encode(s).split('.');
    assert.equal(codec.decode(`${id}.0.${start}.${tag}`), undefined);
    assert.equal(codec.decode(`${id}.5.${Number(start) + 1000}.${tag}`), undefined);
  });

  test('a tampered tag or browser id is refused', () => {
    const v = codec.encode(codec.fresh(100));
    assert.equal(codec.decode(flip(v, v.length - 1)), undefined);
    assert.equal(codec.decode(flip(v, 0)), undefined);
  });

  test('another secret does not verify', () => {
    const v = new LoginCookieCodec(SECRET_B).encode(codec.fresh(100));
    assert.equal(codec.decode(v), undefined);
  });

  test('during a secret rotation a cookie signed with a previous secret still verifies', () => {
    const old = new LoginCookieCodec(SECRET_B).encode({
      browserId: 'b'.repeat(22),
      logins: 2,
      windowStartSec: 100,
    });
    const rotated = new LoginCookieCodec([SECRET_A, SECRET_B]);
    assert.deepEqual(rotated.decode(old), { browserId: 'b'.repeat(22), logins: 2, windowStartSec: 100 });
    // and new cookies are signed with the current secret only
    assert.equal(new LoginCookieCodec(SECRET_B).decode(rotated.encode(rotated.fresh(100))), undefined);
  });

  test('malformed values are refused', () => {
    for (const v of [undefined, '', 'a.b.c', 'a.b.c.d.e', 'x'.repeat(200)]) {
      assert.equal(codec.decode(v), undefined, String(v));
    }
  });

  test('a validly signed state with a wrong-length browser id or non-integer numbers is refused', () => {
    assert.equal(codec.decode(codec.encode({ browserId: 'short', logins: 0, windowStartSec: 1 })), undefined);
    assert.equal(
      codec.decode(codec.encode({ browserId: 'A'.repeat(22), logins: 1.5, windowStartSec: 1 })),
      undefined,
    );
  });
});
