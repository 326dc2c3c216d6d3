import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import type { TokenSet } from '../../src/oidc/tokenSet.js';
import { SessionService } from '../../src/session/service.js';
import type { SessionStore } from '../../src/session/store.js';
import { StoreDecorator } from '../../src/session/storeDecorator.js';
import { decodeTokens, encodeTokens } from '../../src/session/tokenCodec.js';
import { TokenSealer } from '../../src/session/tokenSealer.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { T0, tokenResult } from './fixtures.js';

const SECRET_A = 'secret-A-0123456789-0123456789-0123456789';
const SECRET_B = 'secret-B-0123456789-0123456789-0123456789';
const KEY = 'store-key-of-bob-0123456789abcdefghijklmnop';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An RS256-shaped JWT with a random 256-byte signature. */
const jwt = (claims: Record<string, unknown>) =>
  `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64(claims)}.${randomBytes(256).toString('base64url')}`;
const realistic = (): TokenSet => ({
  accessToken: jwt({
    iss: 'https://idp.example.com',
    sub: 'bob',
    aud: 'gatehouse',
    exp: 1,
    scope: 'openid email',
  }),
  refreshToken: randomBytes(32).toString('base64url'),
  idToken: jwt({ iss: 'https://idp.example.com', sub: 'bob', email: 'bob@example.com', groups: ['dev'] }),
});

/** Tokens that are not (all) canonical base64url, kept as text and given back exactly. */
const ODD: TokenSet[] = [
  { accessToken: 'eyJhbGciOiJub25lIn0=.eyJzdWIiOiJib2IifQ==.' }, // padded
  { accessToken: 'ab+/cd.ef', refreshToken: 'r/t+1==' }, // standard base64 alphabet
  { accessToken: 'opaque token with spaces', idToken: 'ünïcødé ✓ 李雷' },
  { accessToken: 'abc.d$f.ghi', refreshToken: '' }, // a character outside base64url; an empty token
  { accessToken: 'A', refreshToken: 'AB', idToken: 'ABC' }, // lengths that do not decode to whole bytes
  { accessToken: 'a..b.c.d' }, // JWE shape with an empty encrypted key
  { accessToken: `${'x'.repeat(70_000)}.${'y'.repeat(3)}` }, // large, compressible
  { accessToken: '' },
];

/** Flips one bit of byte `i` of a binary seal. */
function flipBinary(s: string, i: number): string {
  return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ 1) + s.slice(i + 1);
}
/** Flips character `i` of a text seal to another base64url character. */
function flipText(s: string, i: number): string {
  return s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
}

/**
 * Made by the code before v3 (`seal(JSON.stringify(tokens), storeKey)`, SECRET_A) and by v3's
 * text form: both must open for as long as records written then can exist.
 */
const GOLDEN = {
  tokens: {
    accessToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl',
    refreshToken: 'rt-bob',
    idToken: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IiLCJub25jZSI6Im4ifQ.c2ln',
  },
  v2: 'v2.CwrnleZB.gpBhLhV8DWtsSkHg.wh1-RRydVnHoHH1H7OvEzWhLQOc3pc0n_qnmcm8NYorz2whi1EqG6VEoSGq3dysQbaynmeeyW0Ii6kw4zOGtVdshna7S3tit-LuZtlqLej4dRQdlW3TcozFQLH3CVOXEgbW3RWjbpL4PCOS9BVuMXhXpFnje9fi74i58NYVDi1IqHTUjgDuldrztmfM165je94dZSP0R5szA-J91pnzbxyUCrCdp_og6uxnQLrfQR57wkwq2FvLM',
  v3: 'v3.CwrnleZBSomxEWWVVsyzSuMUv_thH8Q77ONuLMLF06QYbTsj0gJqQRZsOELsJHmnt0gVlf38hX9SpLHMd5jt6epL9CRAXFTvAVqJS-3uUNFCbp06LQ',
};
/** The binary form of the same seal: `\x03` + its bytes as latin1. */
const GOLDEN_V3_BINARY = `\u0003${Buffer.from(GOLDEN.v3.slice(3), 'base64url').toString('latin1')}`;

describe('TokenSealer v3 (sealTokens / openTokens)', () => {
  const s = new TokenSealer([SECRET_A]);

  test('round trip in both forms, realistic tokens', () => {
    for (let i = 0; i < 20; i++) {
      const t = realistic();
      assert.deepEqual(s.openTokens(s.sealTokens(t, KEY, 'text'), KEY), t);
      assert.deepEqual(s.openTokens(s.sealTokens(t, KEY, 'binary'), KEY), t);
    }
    const bare = { accessToken: jwt({ sub: 'bob' }) };
    assert.deepEqual(s.openTokens(s.sealTokens(bare, KEY, 'binary'), KEY), bare, 'no refresh or ID token');
  });

  test('much smaller than v2: text form under 70 % of v2, binary form a quarter under text', () => {
    let v2 = 0;
    let text = 0;
    let binary = 0;
    for (let i = 0; i < 20; i++) {
      const t = realistic();
      v2 += s.seal(JSON.stringify(t), KEY).length;
      text += s.sealTokens(t, KEY, 'text').length;
      binary += Buffer.byteLength(s.sealTokens(t, KEY, 'binary'), 'latin1');
    }
    assert.ok(text < v2 * 0.7, `text ${text} vs v2 ${v2}`);
    assert.ok(binary < text * 0.76, `binary ${binary} vs text ${text}`);
  });

  test('the forms: text is v3. + base64url, binary is one-byte and starts with \\x03; no plaintext in either', () => {
    const t = {
      accessToken: 'at-SECRET-VALUE-0123456789',
      refreshToken: 'rt-SECRET-VALUE',
      idToken: jwt({ sub: 'bob' }),
    };
    const text = s.sealTokens(t, KEY, 'text');
    assert.match(text, /^v3\.[A-Za-z0-9_-]+$/);
    const binary = s.sealTokens(t, KEY, 'binary');
    assert.equal(binary.charCodeAt(0), 3);
    assert.ok(
      [...binary].every((c) => c.charCodeAt(0) < 256),
      'latin1 only',
    );
    for (const sealed of [text, binary, Buffer.from(text.slice(3), 'base64url').toString('latin1')])
      assert.ok(!sealed.includes('SECRET-VALUE'));
    assert.notEqual(s.sealTokens(t, KEY, 'text'), text, 'random IV');
  });

  test('tokens that are not canonical base64url (or an unknown token set) come back exactly', () => {
    for (const t of [...ODD, { ...realistic(), extra: 'a field this codec does not know' } as TokenSet]) {
      assert.deepEqual(decodeTokens(encodeTokens(t)), t, JSON.stringify(t).slice(0, 60));
      assert.deepEqual(s.openTokens(s.sealTokens(t, KEY, 'binary'), KEY), t);
      assert.deepEqual(s.openTokens(s.sealTokens(t, KEY, 'text'), KEY), t);
    }
  });

  test('v2 token seals (written before v3) still open, and the golden v2 and v3 values open', () => {
    const t = realistic();
    assert.deepEqual(s.openTokens(s.seal(JSON.stringify(t), KEY), KEY), t);
    assert.deepEqual(s.openTokens(GOLDEN.v2, KEY), GOLDEN.tokens);
    assert.deepEqual(s.openTokens(GOLDEN.v3, KEY), GOLDEN.tokens);
    assert.deepEqual(s.openTokens(GOLDEN_V3_BINARY, KEY), GOLDEN.tokens);
    for (const sealed of [GOLDEN.v2, GOLDEN.v3, GOLDEN_V3_BINARY]) assert.ok(s.knowsKeyOf(sealed));
  });

  test('tampering anywhere (key id, IV, ciphertext, tag, truncation) is refused, in both forms', () => {
    const t = realistic();
    const binary = s.sealTokens(t, KEY, 'binary');
    const text = s.sealTokens(t, KEY, 'text');
    for (const i of [1, 7, 12, 19, 40, binary.length - 20, binary.length - 1])
      assert.throws(() => s.openTokens(flipBinary(binary, i), KEY), `binary byte ${i}`);
    for (const i of [3, 11, 20, 60, text.length - 2])
      assert.throws(() => s.openTokens(flipText(text, i), KEY), `text char ${i}`);
    assert.throws(() => s.openTokens(binary.slice(0, 30), KEY), /truncated/);
    assert.throws(() => s.openTokens('v3.AAAA', KEY), /truncated/);
    assert.throws(() => s.openTokens(binary.slice(0, -1), KEY));
    assert.throws(() => s.openTokens(`v4.${text.slice(3)}`, KEY), /unknown format/);
    // A v3 body relabelled v2 (or the reverse) does not open: the associated data differs.
    const bytes = Buffer.from(text.slice(3), 'base64url');
    const [id, ivS, bodyS] = [bytes.subarray(0, 6), bytes.subarray(6, 18), bytes.subarray(18)].map((b) =>
      b.toString('base64url'),
    );
    assert.throws(() => s.openTokens(`v2.${id}.${ivS}.${bodyS}`, KEY));
  });

  test('a seal moved to another record (other store key) does not open', () => {
    const t = realistic();
    for (const form of ['text', 'binary'] as const) {
      const sealed = s.sealTokens(t, KEY, form);
      assert.throws(() => s.openTokens(sealed, 'store-key-of-alice-0123456789abcdefghijklm'));
      assert.throws(() => s.openTokens(sealed, ''));
      assert.throws(() => s.openTokens(sealed, `${KEY}x`));
    }
  });

  test('rotated secrets: old seals open and are known, new ones are sealed with the first; a dropped secret is refused', () => {
    const t = realistic();
    const rotated = new TokenSealer([SECRET_B, SECRET_A]);
    const onlyB = new TokenSealer([SECRET_B]);
    for (const form of ['text', 'binary'] as const) {
      const old = s.sealTokens(t, KEY, form);
      assert.ok(rotated.knowsKeyOf(old));
      assert.deepEqual(rotated.openTokens(old, KEY), t);
      assert.equal(onlyB.knowsKeyOf(old), false, `${form}: the key id of a dropped secret`);
      assert.throws(() => onlyB.openTokens(old, KEY), /no longer configured/);
      const fresh = rotated.sealTokens(t, KEY, form);
      assert.deepEqual(onlyB.openTokens(fresh, KEY), t);
      assert.equal(s.knowsKeyOf(fresh), false);
    }
    assert.equal(onlyB.knowsKeyOf(GOLDEN.v2), false);
    for (const junk of [undefined, 42, '', '\u0003', 'v3.', 'v2', 'garbage'])
      assert.equal(s.knowsKeyOf(junk), false);
  });
});

describe('SessionService: token seals by store', () => {
  function service(store: SessionStore) {
    const clock = new ManualClock(T0);
    const sessions = new SessionService(
      store,
      { secrets: [SECRET_A], maxAgeMs: 86_400_000, idleTimeoutMs: 0, claims: DEFAULT_CLAIM_MAPPING },
      clock,
    );
    const login = () =>
      sessions.create(
        {
          ...tokenResult({
            now: T0,
            accessToken: 'at-bob',
            refreshToken: 'rt-bob',
            idToken: 'id-bob',
            claims: { sub: 'bob' },
          }),
          scopes: 'openid email'.split(' '),
        },
        sessions.identityFrom({ sub: 'bob', groups: ['dev'] }),
      );
    return { sessions, login };
  }
  /** A store that may serialise records (it does not say it keeps them as objects). */
  class SerialisingStore extends StoreDecorator {
    override get keepsRecordObjects(): boolean | undefined {
      return undefined;
    }
  }

  test('the memory store keeps the binary form, a store that may serialise gets the text form', async () => {
    const mem = service(new MemoryStore({ maxSessions: 10, clock: new ManualClock(T0) }));
    const { key } = await mem.login();
    const rec = (await mem.sessions.store.get(key))!;
    assert.equal(rec.tokens.charCodeAt(0), 3);
    assert.equal(mem.sessions.tokens(rec).accessToken, 'at-bob');

    const ser = service(
      new SerialisingStore(new MemoryStore({ maxSessions: 10, clock: new ManualClock(T0) })),
    );
    const other = await ser.login();
    const rec2 = (await ser.sessions.store.get(other.key))!;
    assert.match(rec2.tokens, /^v3\./);
    assert.equal(ser.sessions.tokens(rec2).refreshToken, 'rt-bob');
  });

  test('a record written before v3 (v2 tokens) still opens and refreshes into v3', async () => {
    const mem = service(new MemoryStore({ maxSessions: 10, clock: new ManualClock(T0) }));
    const { key, record } = await mem.login();
    const v2 = mem.sessions.store.authenticator.sealer.seal(
      JSON.stringify({ accessToken: 'at-old', refreshToken: 'rt-old' }),
      key,
    );
    assert.ok(await mem.sessions.store.put(key, { ...record, version: 2, tokens: v2 }, 60_000, 1));
    const old = (await mem.sessions.store.get(key))!;
    assert.match(old.tokens, /^v2\./);
    assert.deepEqual(mem.sessions.tokens(old), { accessToken: 'at-old', refreshToken: 'rt-old' });
    const next = mem.sessions.refreshed(
      old,
      tokenResult({ now: T0, accessToken: 'at-new', claims: undefined }),
    );
    assert.equal(next.tokens.charCodeAt(0), 3);
    assert.ok(await mem.sessions.store.put(key, next, 60_000, 2));
    const reread = (await mem.sessions.store.get(key))!;
    assert.deepEqual(mem.sessions.tokens(reread), { accessToken: 'at-new', refreshToken: 'rt-old' });
  });

  test('equal scopes, groups and roles lists are one shared frozen array across records', async () => {
    const mem = service(new MemoryStore({ maxSessions: 10, clock: new ManualClock(T0) }));
    const a = (await mem.sessions.store.get((await mem.login()).key))!;
    const b = (await mem.sessions.store.get((await mem.login()).key))!;
    assert.deepEqual(a.identity.groups, ['dev']);
    assert.equal(a.identity.groups, b.identity.groups);
    assert.equal(a.identity.roles, b.identity.roles);
    assert.ok(Object.isFrozen(a.identity.groups));
    assert.deepEqual(a.scopes, ['openid', 'email']);
    assert.equal(a.scopes, b.scopes);
  });
});
