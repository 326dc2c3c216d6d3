// Unit tests for the bounded stores and small pure helpers, driven by an explicit clock so
// expiry is tested without sleeping.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { toCsv } from '../../src/devidp/claims.js';
import { ExpiringMap } from '../../src/devidp/expiringMap.js';
import { isLoopbackUrl, parseBasicAuth, singleParams } from '../../src/devidp/http.js';
import { DEFAULT_USERS } from '../../src/devidp/index.js';
import { parseProfiles } from '../../src/devidp/profiles.js';
import { CODE_TTL_MS, type CodeGrant, TokenStore } from '../../src/devidp/tokens.js';
import { loadUsers, UserDirectory } from '../../src/devidp/users.js';

const T0 = 1_700_000_000_000;

function grant(over: Partial<CodeGrant> = {}): CodeGrant {
  return {
    clientId: 'gatehouse',
    redirectUri: 'http://127.0.0.1/cb',
    codeChallenge: 'x'.repeat(43),
    nonce: undefined,
    scope: 'openid offline_access',
    sub: 'usr_alice',
    sid: 'sid1',
    authTime: T0 / 1000,
    offline: true,
    ...over,
  };
}

describe('ExpiringMap', () => {
  it('hides expired entries and sweeps them', () => {
    const m = new ExpiringMap<string, number>(10);
    m.set('a', 1, T0 + 1000);
    m.set('b', 2, T0 + 5000);
    assert.equal(m.get('a', T0 + 999), 1);
    assert.equal(m.get('a', T0 + 1000), undefined);
    assert.equal(m.sweep(T0 + 6000), 1);
    assert.equal(m.size, 0);
  });

  it('evicts the oldest write past the cap', () => {
    const m = new ExpiringMap<number, number>(3);
    for (let i = 0; i < 5; i++) m.set(i, i, T0 + 1000);
    assert.equal(m.size, 3);
    assert.equal(m.get(0, T0), undefined);
    assert.equal(m.get(4, T0), 4);
    m.set(2, 2, T0 + 1000); // rewrite moves 2 to the young end
    m.set(5, 5, T0 + 1000);
    assert.equal(m.get(3, T0), undefined);
    assert.equal(m.get(2, T0), 2);
  });
});

describe('TokenStore', () => {
  it('codes are single-use and expire after 60 s', () => {
    const s = new TokenStore();
    const code = s.issueCode(grant(), T0);
    assert.equal(s.consumeCode(code, T0 + 1).kind, 'ok');
    assert.equal(s.consumeCode(code, T0 + 2).kind, 'replayed');
    const late = s.issueCode(grant(), T0);
    assert.equal(s.consumeCode(late, T0 + CODE_TTL_MS).kind, 'expired');
    assert.equal(s.consumeCode('never-issued', T0).kind, 'unknown');
  });

  it('a code replay revokes the family created from it', () => {
    const s = new TokenStore();
    const code = s.issueCode(grant(), T0);
    const used = s.consumeCode(code, T0);
    assert.equal(used.kind, 'ok');
    const family = s.createFamily(code, grant(), T0 + 86_400_000, T0);
    const rt = s.issueRefresh(family, T0 + 86_400_000);
    assert.deepEqual(s.consumeCode(code, T0 + 10), { kind: 'replayed', revoked: true });
    assert.equal(s.useRefresh(rt, 'gatehouse', T0 + 20, { rotate: true }).kind, 'invalid');
  });

  it('refresh tokens expire, are bound to the client, and reuse revokes the family', () => {
    const s = new TokenStore();
    const family = s.createFamily('c', grant(), T0 + 10_000, T0);
    const rt1 = s.issueRefresh(family, T0 + 10_000);
    assert.equal(s.useRefresh(rt1, 'other', T0, { rotate: true }).kind, 'invalid');
    assert.equal(s.useRefresh(rt1, 'gatehouse', T0, { rotate: true }).kind, 'ok');
    const rt2 = s.issueRefresh(family, T0 + 10_000);
    assert.equal(s.useRefresh(rt1, 'gatehouse', T0, { rotate: true }).kind, 'reused');
    assert.equal(s.useRefresh(rt2, 'gatehouse', T0, { rotate: true }).kind, 'invalid');
    const other = s.createFamily('d', grant(), T0 + 10_000, T0);
    const rt3 = s.issueRefresh(other, T0 + 10_000);
    assert.equal(s.useRefresh(rt3, 'gatehouse', T0 + 10_000, { rotate: true }).kind, 'invalid');
  });

  it('sweep purges expired codes and tokens', () => {
    const s = new TokenStore();
    s.issueCode(grant(), T0);
    const family = s.createFamily('c', grant(), T0 + 1000, T0);
    s.issueRefresh(family, T0 + 1000);
    s.recordAccess(
      'at',
      {
        familyId: family.id,
        sub: 'usr_alice',
        clientId: 'gatehouse',
        scope: 'openid',
        sid: 's',
        viaRefresh: false,
        audience: 'gatehouse-api',
        subject: 'user',
        iat: T0 / 1000,
        exp: (T0 + 500) / 1000,
      },
      T0 + 500,
      T0,
    );
    s.sweep(T0 + 24 * 3600_000);
    assert.deepEqual(s.sizes(), { codes: 0, families: 0, refreshTokens: 0, accessTokens: 0 });
  });

  it('stays bounded under a flood of codes', () => {
    const s = new TokenStore({ maxEntries: 1000 });
    for (let i = 0; i < 5000; i++) s.issueCode(grant(), T0);
    assert.equal(s.sizes().codes, 1000);
  });

  it('revokeSubject counts live refresh tokens only', () => {
    const s = new TokenStore();
    const f1 = s.createFamily('a', grant(), T0 + 10_000, T0);
    const rt = s.issueRefresh(f1, T0 + 10_000);
    s.useRefresh(rt, 'gatehouse', T0, { rotate: true });
    s.issueRefresh(f1, T0 + 10_000);
    s.issueRefresh(s.createFamily('b', grant(), T0 + 10_000, T0), T0 + 10_000);
    s.issueRefresh(s.createFamily('c', grant({ sub: 'usr_bob' }), T0 + 10_000, T0), T0 + 10_000);
    assert.equal(s.revokeSubject('usr_alice', T0), 2);
    assert.equal(s.revokeSubject('usr_alice', T0), 0);
  });
});

describe('helpers', () => {
  it('toCsv quotes only what needs quoting', () => {
    assert.equal(toCsv(['admins', 'dev', 'Ops, EMEA']), 'admins,dev,"Ops, EMEA"');
    assert.equal(toCsv(['say "hi"', ' x']), '"say ""hi"""," x"');
  });

  it('loopback URLs', () => {
    for (const u of [
      'http://127.0.0.1:3000/cb',
      'http://localhost/cb',
      'https://app.localhost/cb',
      'http://[::1]:8080/cb',
    ]) {
      assert.ok(isLoopbackUrl(u), u);
    }
    for (const u of [
      'https://example.com/cb',
      'http://127.0.0.1/cb#x',
      'javascript:alert(1)',
      'http://user@localhost/',
      'http://localhost.evil.com/',
      '',
    ]) {
      assert.ok(!isLoopbackUrl(u), u);
    }
  });

  it('parseBasicAuth decodes form-encoded credentials and rejects garbage', () => {
    const enc = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    assert.deepEqual(parseBasicAuth(enc('my%20client:p%3As+s')), { id: 'my client', secret: 'p:s s' });
    assert.equal(parseBasicAuth(enc('nocolon')), undefined);
    assert.equal(parseBasicAuth(enc(':secret')), undefined);
    assert.equal(parseBasicAuth('Basic ***'), undefined);
    assert.equal(parseBasicAuth('Bearer abc'), undefined);
  });

  it('singleParams reports the first duplicate', () => {
    const { values, duplicate } = singleParams(new URLSearchParams('a=1&b=2&a=3&__proto__=x'));
    assert.deepEqual(
      { ...values },
      Object.fromEntries([
        ['a', '1'],
        ['b', '2'],
        ['__proto__', 'x'],
      ]),
    );
    assert.equal(duplicate, 'a');
  });

  it('parseProfiles de-duplicates and names unknown profiles', () => {
    assert.deepEqual(parseProfiles(['google', ' google ', 'github']), ['google', 'github']);
    assert.throws(() => parseProfiles(['gogle']), /"gogle".*valid profiles: huge-groups/);
  });
});

describe('users', () => {
  const dir = mkdtempSync(join(tmpdir(), 'devidp-users-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults: alice (admin), bob (dev), carol (no groups)', () => {
    assert.deepEqual(
      DEFAULT_USERS.map((u) => [u.username, u.email, u.groups, u.roles]),
      [
        ['alice', 'alice@example.com', ['admins', 'dev'], ['admin']],
        ['bob', 'bob@example.com', ['dev'], []],
        ['carol', 'carol@other.example', [], []],
      ],
    );
    assert.equal(DEFAULT_USERS[0]?.name, 'Alice Admin');
  });

  it('loads a JSON file, defaulting groups and roles', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(
      file,
      JSON.stringify([{ sub: 's1', username: 'dave', email: 'dave@example.com', name: 'Dave' }]),
    );
    const users = loadUsers(file);
    assert.deepEqual(users, [
      { sub: 's1', username: 'dave', email: 'dave@example.com', name: 'Dave', groups: [], roles: [] },
    ]);
    assert.equal(new UserDirectory(users).find('DAVE@example.com')?.sub, 's1');
  });

  it('explains bad files', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[{"username": "x"}]');
    assert.throws(() => loadUsers(bad), /invalid users file .*bad\.json.*sub/s);
    const dup = join(dir, 'dup.json');
    const u = { sub: 's', username: 'x', email: 'x@e', name: 'X' };
    writeFileSync(dup, JSON.stringify([u, { ...u, sub: 't', username: 'X' }]));
    assert.throws(() => loadUsers(dup), /duplicate username/);
    assert.throws(() => loadUsers(join(dir, 'missing.json')), /cannot read users file/);
    writeFileSync(bad, '{not json');
    assert.throws(() => loadUsers(bad), /cannot read users file/);
  });
});
