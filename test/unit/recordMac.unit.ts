import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import { GatewayMetrics } from '../../src/metrics.js';
import { AuthenticatedStore } from '../../src/session/authenticatedStore.js';
import type { SessionRecord } from '../../src/session/record.js';
import { RecordMac, type RecordRejection } from '../../src/session/recordMac.js';
import { SessionService } from '../../src/session/service.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { record as baseRecord, T0, tokenResult } from './fixtures.js';

const SECRET_A = 'secret-A-0123456789-0123456789-0123456789';
const SECRET_B = 'secret-B-0123456789-0123456789-0123456789';
const KEY = 'bob-store-key-0123456789abcdefghijklmnopqrs';
const OTHER_KEY = 'alice-store-key-0123456789abcdefghijklmnopq';

/** What a store hands back: the writer's JSON, parsed again (key order kept). */
const roundtrip = (r: SessionRecord): SessionRecord => JSON.parse(JSON.stringify(r)) as SessionRecord;

function bob(over: Partial<SessionRecord> = {}): SessionRecord {
  return baseRecord({
    sub: 'usr_bob',
    sid: 'idp-sid-bob',
    identity: {
      sub: 'usr_bob',
      user: 'bob',
      email: 'bob@example.com',
      emailVerified: false,
      preferredUsername: 'bob',
      groups: ['dev'],
      roles: ['viewer'],
    },
    tokens: 'v2.kid.iv.sealed-bob',
    ...over,
  });
}

/** Every field that decides access, edited the way an attacker with `HSET d` would. */
const TAMPERINGS: Array<[string, (r: SessionRecord) => void]> = [
  [
    'identity.user',
    (r) => {
      r.identity.user = 'alice';
    },
  ],
  [
    'identity.sub',
    (r) => {
      r.identity.sub = 'usr_alice';
    },
  ],
  [
    'identity.groups (added)',
    (r) => {
      r.identity.groups.push('admins');
    },
  ],
  [
    'identity.groups (replaced)',
    (r) => {
      r.identity.groups = ['admins'];
    },
  ],
  [
    'identity.roles',
    (r) => {
      r.identity.roles = ['admin'];
    },
  ],
  [
    'identity.email',
    (r) => {
      r.identity.email = 'alice@example.com';
    },
  ],
  [
    'identity.emailVerified',
    (r) => {
      r.identity.emailVerified = true;
    },
  ],
  [
    'identity.preferredUsername',
    (r) => {
      r.identity.preferredUsername = 'alice';
    },
  ],
  [
    'sub',
    (r) => {
      r.sub = 'usr_alice';
    },
  ],
  [
    'sid (changed)',
    (r) => {
      r.sid = 'idp-sid-alice';
    },
  ],
  [
    'sid (removed)',
    (r) => {
      delete r.sid;
    },
  ],
  [
    'tokens',
    (r) => {
      r.tokens = 'v2.kid.iv.sealed-alice';
    },
  ],
  [
    'hasRefreshToken',
    (r) => {
      r.hasRefreshToken = !r.hasRefreshToken;
    },
  ],
  [
    'accessExpiresAt',
    (r) => {
      r.accessExpiresAt += 86_400_000;
    },
  ],
  [
    'accessLifetimeMs',
    (r) => {
      r.accessLifetimeMs *= 10;
    },
  ],
  [
    'refreshIssuedAt',
    (r) => {
      r.refreshIssuedAt += 1;
    },
  ],
  [
    'refreshRetryAt (added)',
    (r) => {
      r.refreshRetryAt = T0;
    },
  ],
  [
    'createdAt',
    (r) => {
      r.createdAt += 1;
    },
  ],
  [
    'expiresAt (absolute end)',
    (r) => {
      r.expiresAt += 365 * 86_400_000;
    },
  ],
  [
    'version',
    (r) => {
      r.version += 1;
    },
  ],
  [
    'a field added',
    (r) => {
      (r as unknown as Record<string, unknown>).admin = true;
    },
  ],
];

describe('RecordMac', () => {
  const mac = new RecordMac([SECRET_A]);

  test('a signed record verifies after the store round trip, and its lastSeenAt may move', () => {
    const signed = mac.sign(KEY, bob());
    assert.match(signed.mac!, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(mac.verify(KEY, signed), undefined);
    const stored = roundtrip(signed);
    assert.equal(mac.verify(KEY, stored), undefined);
    stored.lastSeenAt += 60_000; // a touch (the Redis store's parse merges `l` into it)
    assert.equal(mac.verify(KEY, stored), undefined);
  });

  for (const [field, edit] of TAMPERINGS) {
    test(`editing ${field} is detected`, () => {
      const stored = roundtrip(mac.sign(KEY, bob()));
      edit(stored);
      assert.equal(mac.verify(KEY, stored), 'invalid');
    });
  }

  test('the claims kept for header templates are covered: edited, added or removed', () => {
    const stored = roundtrip(mac.sign(KEY, bob({ claims: { email: 'bob@example.com', tid: 't1' } })));
    assert.equal(mac.verify(KEY, stored), undefined);
    const edited = structuredClone(stored);
    edited.claims!.email = 'alice@example.com';
    assert.equal(mac.verify(KEY, edited), 'invalid');
    const removed = structuredClone(stored);
    delete removed.claims;
    assert.equal(mac.verify(KEY, removed), 'invalid');
    const added = roundtrip(mac.sign(KEY, bob()));
    added.claims = { email: 'alice@example.com' };
    assert.equal(mac.verify(KEY, added), 'invalid');
  });

  test('removing refreshRetryAt is detected', () => {
    const stored = roundtrip(mac.sign(KEY, bob({ refreshRetryAt: T0 + 5000 })));
    delete stored.refreshRetryAt;
    assert.equal(mac.verify(KEY, stored), 'invalid');
  });

  test("the JSON's field order is part of what is signed (the writer's bytes, nothing else)", () => {
    const stored = roundtrip(mac.sign(KEY, bob()));
    const { version, ...rest } = stored;
    assert.equal(mac.verify(KEY, { ...rest, version } as SessionRecord), 'invalid');
  });

  test("a whole record copied to another session's key does not verify (the store key is associated data)", () => {
    const alice = roundtrip(mac.sign(OTHER_KEY, bob({ sub: 'usr_alice' })));
    assert.equal(mac.verify(KEY, alice), 'invalid');
    assert.equal(mac.verify(OTHER_KEY, alice), undefined);
  });

  test('a MAC-less record (written before the upgrade, or stripped) is refused as unsigned', () => {
    assert.equal(mac.verify(KEY, bob()), 'unsigned');
    const stripped = roundtrip(mac.sign(KEY, bob()));
    delete stripped.mac;
    assert.equal(mac.verify(KEY, stripped), 'unsigned');
  });

  test('garbage is refused as malformed, never a throw', () => {
    const good = mac.sign(KEY, bob());
    const cases: unknown[] = [
      {},
      [],
      null,
      5,
      'x',
      { ...good, mac: 5 },
      { ...good, mac: '' },
      { ...good, mac: 'v1..' },
      { ...good, mac: 'v2.a.b' },
      { ...good, mac: `${good.mac}.x` },
      { ...good, lastSeenAt: 'soon' },
      { ...good, lastSeenAt: null },
      { ...good, version: '1' },
    ];
    for (const c of cases) assert.equal(mac.verify(KEY, c as SessionRecord), 'malformed', JSON.stringify(c));
    const flipped = `${good.mac!.slice(0, -2)}${good.mac!.endsWith('AA') ? 'BB' : 'AA'}`;
    assert.equal(mac.verify(KEY, { ...good, mac: flipped }), 'invalid');
  });

  test('during a secret rotation the previous secret still verifies; new records are signed with the first', () => {
    const old = roundtrip(new RecordMac([SECRET_A]).sign(KEY, bob()));
    const rotated = new RecordMac([SECRET_B, SECRET_A]);
    assert.equal(rotated.verify(KEY, old), undefined);
    const fresh = roundtrip(rotated.sign(KEY, bob()));
    assert.equal(new RecordMac([SECRET_B]).verify(KEY, fresh), undefined);
    assert.equal(new RecordMac([SECRET_A]).verify(KEY, fresh), 'unknown_key');
    assert.equal(new RecordMac([SECRET_B]).verify(KEY, old), 'unknown_key', 'once the old secret is dropped');
  });
});

/** A SessionService over a memory store, with the warn lines and metric it reports. */
function service(secrets = [SECRET_A]) {
  const clock = new ManualClock(T0);
  const inner = new MemoryStore({ maxSessions: 100, clock });
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _e, cb) {
        raw.push(chunk.toString());
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const metrics = new GatewayMetrics();
  const sessions = new SessionService(
    inner,
    { secrets, maxAgeMs: 86_400_000, idleTimeoutMs: 0, claims: DEFAULT_CLAIM_MAPPING },
    clock,
    { logger, metrics },
  );
  const login = (user: string, groups: string[]) => {
    const claims = { sub: `usr_${user}`, preferred_username: user, groups, sid: `sid-${user}` };
    return sessions.create(
      tokenResult({
        now: T0,
        accessToken: `at-${user}`,
        refreshToken: `rt-${user}`,
        idToken: `id-${user}`,
        claims,
      }),
      sessions.identityFrom(claims),
    );
  };
  const rejected = async (reason?: RecordRejection): Promise<number> =>
    (await metrics.recordsRejected.get()).values
      .filter((v) => reason === undefined || v.labels.reason === reason)
      .reduce((a, v) => a + v.value, 0);
  return { clock, inner, sessions, lines, raw, metrics, login, rejected };
}

describe('SessionService: records are authenticated', () => {
  test('a record read back through the session layer verifies and its tokens open', async () => {
    const s = service();
    const { key } = await s.login('bob', ['dev']);
    const rec = await s.sessions.store.get(key);
    assert.ok(rec);
    assert.equal(s.sessions.tokens(rec).accessToken, 'at-bob');
    assert.equal(await s.rejected(), 0);
  });

  test('an edited record (bob given alice’s identity and groups) is no session; counted and logged without content', async () => {
    const s = service();
    const alice = await s.login('alice', ['admins']);
    const bob = await s.login('bob', ['dev']);
    const stored = roundtrip((await s.inner.get(bob.key))!);
    stored.sub = alice.record.sub;
    stored.identity = { ...alice.record.identity };
    await s.inner.put(bob.key, stored, 60_000, stored.version); // straight into the store, as redis-cli would
    assert.equal(await s.sessions.store.get(bob.key), undefined);
    assert.equal(await s.sessions.store.get(bob.key), undefined);
    assert.equal(await s.rejected('invalid'), 2, 'every refused read is counted');
    const warns = s.lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 1, 'logged once per record, not per read');
    assert.deepEqual(
      Object.keys(warns[0]!).filter((k) => !['level', 'time', 'service', 'msg'].includes(k)),
      ['session', 'reason'],
    );
    assert.equal(warns[0]!.session, bob.key.slice(0, 12));
    assert.equal(warns[0]!.reason, 'invalid');
    const text = s.raw.join('');
    for (const secret of ['alice', 'admins', 'usr_', 'at-', 'rt-', stored.tokens, bob.key])
      assert.ok(!text.includes(secret), `the log line has no ${secret}`);
    // alice's own session is untouched
    assert.ok(await s.sessions.store.get(alice.key));
  });

  test("alice's sealed token blob moved into bob's record: the record is refused, and the blob would not open anyway", async () => {
    const s = service();
    const alice = await s.login('alice', ['admins']);
    const bob = await s.login('bob', ['dev']);
    const stored = roundtrip((await s.inner.get(bob.key))!);
    stored.tokens = (await s.inner.get(alice.key))!.tokens;
    await s.inner.put(bob.key, stored, 60_000, stored.version);
    assert.equal(await s.sessions.store.get(bob.key), undefined);
    assert.equal(await s.rejected('invalid'), 1);

    // Even a record re-MACed around the moved blob (say, by a bug) does not open it: the GCM tag
    // binds the blob to alice's store key.
    const remac = new RecordMac([SECRET_A]).sign(bob.key, stored);
    await s.inner.put(bob.key, remac, 60_000, stored.version);
    const accepted = await s.sessions.store.get(bob.key);
    assert.ok(accepted, 'the MAC itself is fine');
    assert.throws(() => s.sessions.tokens(accepted));
  });

  test('a MAC-less record (written by a release before this one) is no session: one re-login after the upgrade', async () => {
    const s = service();
    const { key } = await s.login('bob', ['dev']);
    const legacy = roundtrip((await s.inner.get(key))!);
    delete legacy.mac;
    await s.inner.put(key, legacy, 60_000, legacy.version);
    assert.equal(await s.sessions.store.get(key), undefined);
    assert.equal(await s.rejected('unsigned'), 1);
  });

  test('after a secret rotation (new secret first, old in previousSecrets) existing sessions still verify and open', async () => {
    const before = service([SECRET_A]);
    const { key } = await before.login('bob', ['dev']);
    const stored = roundtrip((await before.inner.get(key))!);
    const after = service([SECRET_B, SECRET_A]);
    await after.inner.put(key, stored, 60_000, null);
    const rec = await after.sessions.store.get(key);
    assert.ok(rec, 'verified with the previous secret');
    assert.equal(after.sessions.tokens(rec).refreshToken, 'rt-bob');
    // a refresh rewrites it, signed (and sealed) with the new secret only
    const next = after.sessions.refreshed(
      rec,
      tokenResult({ now: T0, accessToken: 'at-2', refreshToken: 'rt-2' }),
    );
    assert.ok(await after.sessions.store.put(key, next, 60_000, rec.version));
    const rewritten = roundtrip((await after.inner.get(key))!);
    assert.equal(new RecordMac([SECRET_B]).verify(key, rewritten), undefined);
    const onlyNew = service([SECRET_B]);
    await onlyNew.inner.put(key, rewritten, 60_000, null);
    const reread = await onlyNew.sessions.store.get(key);
    assert.ok(reread);
    assert.equal(onlyNew.sessions.tokens(reread).accessToken, 'at-2');
    // and a session never rewritten is refused once the old secret is dropped
    await onlyNew.inner.put('other', stored, 60_000, null);
    assert.equal(await onlyNew.sessions.store.get('other'), undefined);
    assert.equal(await onlyNew.rejected('unknown_key'), 1);
  });

  test('tokens() refuses a record the session layer never authenticated', async () => {
    const s = service();
    const { key } = await s.login('bob', ['dev']);
    const unverified = roundtrip((await s.inner.get(key))!);
    assert.throws(() => s.sessions.tokens(unverified), /session layer/);
  });
});

describe('SessionService.rotateSecrets (a reload of session.secret / previousSecrets)', () => {
  test('new secret signs, the previous one still verifies; a record already verified is checked again once dropped', async () => {
    const s = service([SECRET_A]);
    const { key, cookieValue } = await s.login('bob', ['dev']);
    const held = await s.sessions.store.get(key);
    assert.ok(held);
    assert.equal(s.sessions.tokens(held).accessToken, 'at-bob');

    s.sessions.rotateSecrets([SECRET_B, SECRET_A]);
    assert.equal(s.sessions.codec.open(cookieValue), key, 'the cookie made under A opens');
    const same = await s.sessions.store.get(key);
    assert.equal(same, held, 'the memory store hands out its own object');
    const fresh = await s.sessions.create(
      tokenResult({ now: T0, accessToken: 'at-new', refreshToken: 'rt-new' }),
      s.sessions.identityFrom({ sub: 'usr_new', preferred_username: 'new' }),
    );
    const written = roundtrip((await s.inner.get(fresh.key))!);
    assert.equal(new RecordMac([SECRET_B]).verify(fresh.key, written), undefined, 'signed with B');
    assert.equal(new RecordMac([SECRET_A]).verify(fresh.key, written), 'unknown_key', 'not with A');

    s.sessions.rotateSecrets([SECRET_B]);
    assert.equal(s.sessions.codec.open(cookieValue), undefined, 'the A cookie is refused');
    assert.equal(
      await s.sessions.store.get(key),
      undefined,
      'the same record object, accepted under A before, is verified again and refused',
    );
    assert.equal(await s.rejected('unknown_key'), 1);
    assert.equal(s.sessions.codec.open(fresh.cookieValue), fresh.key);
    const kept = await s.sessions.store.get(fresh.key);
    assert.ok(kept);
    assert.equal(s.sessions.tokens(kept).accessToken, 'at-new');
  });

  test('a request holding a record when its secret is dropped still opens its tokens (nothing in flight fails)', async () => {
    const s = service([SECRET_A]);
    const { key } = await s.login('bob', ['dev']);
    const held = roundtrip((await s.inner.get(key))!);
    await s.inner.put(key, held, 60_000, null);
    const inFlight = await s.sessions.store.get(key); // verified, tokens not opened yet
    assert.ok(inFlight);
    s.sessions.rotateSecrets([SECRET_B]);
    assert.equal(s.sessions.tokens(inFlight).refreshToken, 'rt-bob');
    assert.equal(await s.sessions.store.get(key), undefined, 'the next read is refused');
  });

  test('a record re-signed under the new secret around tokens sealed under the old one is no session once the old one is dropped', async () => {
    const s = service([SECRET_A]);
    const { key } = await s.login('bob', ['dev']);
    s.sessions.rotateSecrets([SECRET_B, SECRET_A]);
    const rec = (await s.sessions.store.get(key))!;
    // A rewrite that keeps the sealed tokens (silent-upgrade mark, refresh back-off).
    assert.ok(await s.sessions.store.put(key, { ...rec, version: rec.version + 1 }, 60_000, rec.version));
    s.sessions.rotateSecrets([SECRET_B]);
    const stored = roundtrip((await s.inner.get(key))!);
    assert.equal(new RecordMac([SECRET_B]).verify(key, stored), undefined, 'the MAC alone passes');
    assert.equal(await s.sessions.store.get(key), undefined, 'refused, not a throw at tokens()');
    assert.equal(await s.rejected('unknown_key'), 1);
  });

  test('a record refused as unknown_key before this replica knew the secret is accepted after the reload', async () => {
    const writer = service([SECRET_B]);
    const { key } = await writer.login('bob', ['dev']);
    const reader = service([SECRET_A]);
    await reader.inner.put(key, roundtrip((await writer.inner.get(key))!), 60_000, null);
    assert.equal(await reader.sessions.store.get(key), undefined);
    reader.sessions.rotateSecrets([SECRET_A, SECRET_B]);
    const rec = await reader.sessions.store.get(key);
    assert.ok(rec, 'verified again under the new list');
    assert.equal(reader.sessions.tokens(rec).accessToken, 'at-bob');
  });
});

describe('AuthenticatedStore: the hot path', () => {
  test('a record object handed out again is verified once; a changed object is verified again', async () => {
    const clock = new ManualClock(T0);
    const inner = new MemoryStore({ maxSessions: 10, clock });
    const mac = new RecordMac([SECRET_A]);
    let verifies = 0;
    const verify = mac.verify.bind(mac);
    mac.verify = (k, r) => {
      verifies++;
      return verify(k, r);
    };
    const store = new AuthenticatedStore(inner, mac);
    // Stored as another replica wrote it (not by this layer): like a Redis read.
    await inner.put(KEY, roundtrip(mac.sign(KEY, bob())), 60_000, null);
    for (let i = 0; i < 1000; i++) assert.ok(await store.get(KEY));
    assert.equal(verifies, 1, 'the same object (an L1 hit) costs one WeakMap lookup');
    await inner.touch(KEY, T0 + 1000, 60_000); // a new object with a new lastSeenAt
    assert.ok(await store.get(KEY));
    assert.equal(verifies, 2);
    // Written through this layer: trusted as written, no MAC check at all.
    const rec = (await store.get(KEY))!;
    assert.ok(await store.put(KEY, { ...rec, version: rec.version + 1 }, 60_000, rec.version));
    for (let i = 0; i < 100; i++) assert.ok(await store.get(KEY));
    assert.equal(verifies, 2);
  });

  test('compare-and-set on version passes through unchanged', async () => {
    const clock = new ManualClock(T0);
    const store = new AuthenticatedStore(
      new MemoryStore({ maxSessions: 10, clock }),
      new RecordMac([SECRET_A]),
    );
    assert.equal(await store.put(KEY, bob(), 60_000, null), true);
    assert.equal(await store.put(KEY, bob(), 60_000, null), false, 'exists');
    assert.equal(await store.put(KEY, bob({ version: 2 }), 60_000, 7), false, 'wrong version');
    assert.equal(await store.put(KEY, bob({ version: 2 }), 60_000, 1), true);
    assert.equal((await store.get(KEY))?.version, 2);
  });
});
