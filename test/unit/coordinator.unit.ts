import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import { GatewayMetrics } from '../../src/metrics.js';
import { OidcError } from '../../src/oidc/errors.js';
import type { TokenResult } from '../../src/oidc/tokenResult.js';
import {
  type CoordinatorSettings,
  RefreshCoordinator,
  type RefreshOutcome,
} from '../../src/refresh/coordinator.js';
import type { SessionRecord } from '../../src/session/record.js';
import { SessionService } from '../../src/session/service.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { coordinatorSettings, type Deferred, deferred, settle, T0, tokenResult } from './fixtures.js';

const SECRET = 'coordinator-test-secret-0123456789-abcdef';

/** The one test double: stands for the IdP's token endpoint. Each call gets its own deferred. */
class FakeRefresher {
  readonly calls: Array<{ refreshToken: string; previousClaims: Record<string, unknown> | undefined }> = [];
  readonly pending: Array<Deferred<TokenResult>> = [];

  /** Once set, further calls are recorded and fail at once (a clear assertion instead of a hang). */
  private closed = false;

  refresh(refreshToken: string, previousClaims: Record<string, unknown> | undefined): Promise<TokenResult> {
    this.calls.push({ refreshToken, previousClaims });
    if (this.closed) return Promise.reject(new Error('unexpected refresh grant'));
    const d = deferred<TokenResult>();
    this.pending.push(d);
    return d.promise;
  }

  expectNoMoreCalls(): void {
    this.closed = true;
  }

  /** The deferred of the latest call. */
  get last(): Deferred<TokenResult> {
    const d = this.pending[this.pending.length - 1];
    assert.ok(d, 'the refresher was never called');
    return d;
  }
}

interface Harness {
  clock: ManualClock;
  store: MemoryStore;
  sessions: SessionService;
  refresher: FakeRefresher;
  metrics: GatewayMetrics;
  coordinator: RefreshCoordinator;
  settings: CoordinatorSettings;
}

const harnesses: Harness[] = [];

function harness(over: Partial<CoordinatorSettings> = {}): Harness {
  const clock = new ManualClock(T0);
  const store = new MemoryStore({ maxSessions: 1000, clock });
  const sessions = new SessionService(
    store,
    {
      secrets: [SECRET],
      maxAgeMs: 86_400_000,
      idleTimeoutMs: 0,
      claims: DEFAULT_CLAIM_MAPPING,
    },
    clock,
  );
  const refresher = new FakeRefresher();
  const metrics = new GatewayMetrics();
  const settings = coordinatorSettings(over);
  const coordinator = new RefreshCoordinator(
    sessions,
    refresher,
    settings,
    clock,
    createLogger('silent'),
    metrics,
  );
  const h = { clock, store, sessions, refresher, metrics, coordinator, settings };
  harnesses.push(h);
  return h;
}

/** A logged-in session whose 5-minute access token was issued at T0. */
async function login(
  h: Harness,
  claims: Record<string, unknown> = { sub: 'user-1', preferred_username: 'alice', groups: ['admins', 'dev'] },
  refreshToken: string | null = 'rt-1',
): Promise<{ key: string; record: SessionRecord }> {
  const result = tokenResult({
    now: h.clock.now(),
    accessToken: 'at-1',
    refreshToken: refreshToken ?? undefined,
    idToken: 'id-1',
    claims,
  });
  const { key, record } = await h.sessions.create(result, h.sessions.identityFrom(claims));
  return { key, record };
}

function expectOk(o: RefreshOutcome): SessionRecord {
  assert.equal(o.kind, 'ok', `expected ok, got ${JSON.stringify(o)}`);
  return (o as { record: SessionRecord }).record;
}

async function counter(h: Harness, name: 'refreshes' | 'coalesced', result?: string): Promise<number> {
  const m = await h.metrics[name].get();
  return m.values
    .filter((v) => result === undefined || v.labels.result === result)
    .reduce((a, v) => a + v.value, 0);
}

/** Per-test setup/teardown, registered inside each describe (never at the root: see all.test.ts). */
function lifecycle(): void {
  beforeEach(() => {
    harnesses.length = 0;
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0)) {
      // Nothing must be left running: a stuck refresh would show up here.
      assert.equal(h.coordinator.pending, 0, 'no refresh left in flight');
      await h.store.close();
    }
  });
}

describe('RefreshCoordinator: single flight', () => {
  lifecycle();

  test('200 concurrent refreshes of one expired session make exactly one grant', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000); // the access token has just expired

    const outcomes = Array.from({ length: 200 }, () => h.coordinator.refresh(key, record));
    assert.equal(h.coordinator.pending, 1);
    await settle();
    assert.equal(h.refresher.calls.length, 1, 'one grant for 200 requests');
    assert.equal(h.refresher.calls[0]?.refreshToken, 'rt-1');
    assert.deepEqual(h.refresher.calls[0]?.previousClaims, { sub: 'user-1' });

    h.refresher.last.resolve(
      tokenResult({
        now: h.clock.now(),
        accessToken: 'at-2',
        refreshToken: 'rt-2',
        idToken: 'id-2',
        rotated: true,
      }),
    );
    const results = await Promise.all(outcomes);

    const first = expectOk(results[0]!);
    for (const o of results) assert.equal(expectOk(o), first, 'everybody gets the leader record');
    assert.equal(first.version, 2);
    assert.equal(first.accessExpiresAt, h.clock.now() + 300_000);
    assert.equal(first.refreshIssuedAt, h.clock.now(), 'rotation restarts the refresh-token age');
    assert.equal(h.coordinator.pending, 0);
    assert.equal(h.refresher.calls.length, 1);

    const stored = await h.store.get(key);
    assert.ok(stored);
    assert.equal(stored.version, 2);
    assert.deepEqual(h.sessions.tokens(stored), {
      accessToken: 'at-2',
      refreshToken: 'rt-2',
      idToken: 'id-2',
    });
    assert.equal(stored.hasRefreshToken, true);

    assert.equal(await counter(h, 'coalesced'), 199);
    assert.equal(await counter(h, 'refreshes', 'ok'), 1);
  });

  test('a second expiry cycle makes exactly one more grant, with the rotated token', async () => {
    const h = harness();
    const { key, record } = await login(h);

    h.clock.advance(300_000);
    const cycle1 = Array.from({ length: 50 }, () => h.coordinator.refresh(key, record));
    await settle();
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: 'rt-2' }));
    const v2 = expectOk((await Promise.all(cycle1))[0]!);

    h.clock.advance(300_000);
    const cycle2 = Array.from({ length: 200 }, () => h.coordinator.refresh(key, v2));
    await settle();
    assert.equal(h.refresher.calls.length, 2);
    assert.equal(h.refresher.calls[1]?.refreshToken, 'rt-2', 'the rotated token is used');
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-3', refreshToken: 'rt-3' }));
    const results = await Promise.all(cycle2);
    for (const o of results) assert.equal(expectOk(o).version, 3);

    assert.equal(h.refresher.calls.length, 2);
    assert.equal(h.coordinator.pending, 0);
    const stored = await h.store.get(key);
    assert.equal(stored?.version, 3);
    assert.equal(h.sessions.tokens(stored!).refreshToken, 'rt-3');
  });

  test('a request holding the pre-refresh record gets the stored one without a new grant', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const first = h.coordinator.refresh(key, record);
    await settle();
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: 'rt-2' }));
    const v2 = expectOk(await first);

    // A straggler that read version 1 (e.g. just before the write) asks again.
    h.refresher.expectNoMoreCalls();
    const late = expectOk(await h.coordinator.refresh(key, record));
    assert.equal(late.version, v2.version);
    assert.equal(h.refresher.calls.length, 1);
  });

  test('different sessions refresh independently', async () => {
    const h = harness();
    const a = await login(h);
    const b = await login(h);
    h.clock.advance(300_000);
    const pa = h.coordinator.refresh(a.key, a.record);
    const pb = h.coordinator.refresh(b.key, b.record);
    assert.equal(h.coordinator.pending, 2);
    await settle();
    assert.equal(h.refresher.calls.length, 2);
    for (const d of h.refresher.pending) d.resolve(tokenResult({ now: h.clock.now(), refreshToken: 'rt-x' }));
    expectOk(await pa);
    expectOk(await pb);
  });

  test('refreshInBackground starts one refresh and does not duplicate one in flight', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(250_000); // inside the grace window
    h.coordinator.refreshInBackground(key, record);
    h.coordinator.refreshInBackground(key, record);
    assert.equal(h.coordinator.pending, 1);
    await settle();
    assert.equal(h.refresher.calls.length, 1);
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: 'rt-2' }));
    await h.coordinator.settled();
    assert.equal((await h.store.get(key))?.version, 2);
    assert.equal(await counter(h, 'coalesced'), 0, 'a skipped background start is not a coalesced request');
  });

  test('the number of sessions refreshing at once is bounded', async () => {
    const h = harness({ maxInFlight: 2 });
    const sessions = [await login(h), await login(h), await login(h)];
    h.clock.advance(300_000);
    const p0 = h.coordinator.refresh(sessions[0]!.key, sessions[0]!.record);
    const p1 = h.coordinator.refresh(sessions[1]!.key, sessions[1]!.record);
    const over = await h.coordinator.refresh(sessions[2]!.key, sessions[2]!.record);
    assert.equal(over.kind, 'transient');
    await settle();
    assert.equal(h.refresher.calls.length, 2);
    for (const d of h.refresher.pending) d.resolve(tokenResult({ now: h.clock.now(), refreshToken: 'rt-x' }));
    await Promise.all([p0, p1]);
    // Once the map drains, the third session can refresh.
    const p2 = h.coordinator.refresh(sessions[2]!.key, sessions[2]!.record);
    await settle();
    assert.equal(h.refresher.calls.length, 3);
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), refreshToken: 'rt-y' }));
    expectOk(await p2);
  });
});

describe('RefreshCoordinator: results', () => {
  lifecycle();

  test('terminal (invalid_grant) evicts the session', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const outcomes = Array.from({ length: 20 }, () => h.coordinator.refresh(key, record));
    await settle();
    h.refresher.last.reject(
      new OidcError('refused', { oauthError: 'invalid_grant', description: 'token revoked', status: 400 }),
    );
    const results = await Promise.all(outcomes);
    for (const o of results) assert.equal(o.kind, 'terminal');
    assert.equal(await h.store.get(key), undefined, 'session deleted');
    assert.equal(h.refresher.calls.length, 1);
    assert.equal(await counter(h, 'refreshes', 'terminal'), 1);

    // Later requests do not try again.
    h.refresher.expectNoMoreCalls();
    const again = await h.coordinator.refresh(key, record);
    assert.equal(again.kind, 'terminal');
    assert.equal(h.refresher.calls.length, 1);
  });

  test('terminal after someone else already renewed the session uses their tokens', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    // Another replica rotated the token meanwhile; ours is now spent.
    const theirs = h.sessions.refreshed(
      record,
      tokenResult({ now: h.clock.now(), accessToken: 'at-other', refreshToken: 'rt-other' }),
    );
    assert.ok(await h.sessions.store.put(key, theirs, h.sessions.ttl(theirs), record.version));
    h.refresher.last.reject(
      new OidcError('refused', { oauthError: 'invalid_grant', description: 'reused', status: 400 }),
    );
    const rec = expectOk(await p);
    assert.equal(rec.version, theirs.version);
    assert.equal(h.sessions.tokens((await h.store.get(key))!).accessToken, 'at-other', 'not evicted');
  });

  test('transient failure keeps the session and sets a retry time', async () => {
    const h = harness({ retryBackoffMs: 7_500 });
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const outcomes = Array.from({ length: 20 }, () => h.coordinator.refresh(key, record));
    await settle();
    h.refresher.last.reject(
      new OidcError('provider_error', {
        oauthError: 'temporarily_unavailable',
        description: 'IdP 503',
        status: 503,
      }),
    );
    const results = await Promise.all(outcomes);
    for (const o of results) {
      assert.equal(o.kind, 'transient');
      assert.equal((o as { retryAfterSec: number }).retryAfterSec, 8);
    }
    const stored = await h.store.get(key);
    assert.ok(stored, 'session kept');
    assert.equal(stored.refreshRetryAt, h.clock.now() + 7_500);
    assert.equal(stored.version, record.version + 1);
    assert.equal(stored.accessExpiresAt, record.accessExpiresAt);
    assert.equal(
      h.sessions.tokens(stored).refreshToken,
      'rt-1',
      'old refresh token kept for the next attempt',
    );
    assert.equal(h.refresher.calls.length, 1);
    assert.equal(await counter(h, 'refreshes', 'transient'), 1);
  });

  test('a network error that is not an OidcError is transient too', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    h.refresher.last.reject(new TypeError('fetch failed'));
    assert.equal((await p).kind, 'transient');
    assert.ok(await h.store.get(key), 'session kept');
  });

  test('after a transient failure the next attempt succeeds and clears the retry time', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p1 = h.coordinator.refresh(key, record);
    await settle();
    h.refresher.last.reject(new OidcError('unreachable', { description: 'timeout' }));
    assert.equal((await p1).kind, 'transient');
    const backingOff = (await h.store.get(key))!;

    h.clock.advance(5_000);
    const p2 = h.coordinator.refresh(key, backingOff);
    await settle();
    assert.equal(h.refresher.calls.length, 2);
    assert.equal(h.refresher.calls[1]?.refreshToken, 'rt-1');
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: 'rt-2' }));
    const rec = expectOk(await p2);
    assert.equal(rec.refreshRetryAt, undefined);
    assert.equal((await h.store.get(key))?.refreshRetryAt, undefined);
  });

  test('wait timeout: callers get transient, the late answer is still stored, no second grant', async () => {
    // The coordinator's deadline is a real setTimeout; node:test's mock timers drive it, so the
    // test neither sleeps nor depends on the (unref'd) timer keeping the event loop alive.
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const h = harness({ waitTimeoutMs: 10_000 });
      const { key, record } = await login(h);
      h.clock.advance(300_000);

      let leaderOutcome: RefreshOutcome | undefined;
      // Read through a function: TypeScript would otherwise keep the narrowing from the first check.
      const leaderNow = (): RefreshOutcome | undefined => leaderOutcome;
      void h.coordinator.refresh(key, record).then((o) => {
        leaderOutcome = o;
      });
      await settle();
      assert.equal(h.refresher.calls.length, 1);
      mock.timers.tick(9_999);
      await settle();
      assert.equal(leaderNow(), undefined, 'still waiting before the deadline');

      mock.timers.tick(1); // the deadline passes while the IdP has not answered
      await settle();
      assert.equal(leaderNow()?.kind, 'transient', 'answered at the deadline');
      assert.equal(h.coordinator.pending, 1, 'the grant itself is not abandoned');

      // More requests while the IdP is still thinking: answered at once, and they start no grant.
      h.refresher.expectNoMoreCalls();
      const followers: Array<RefreshOutcome | undefined> = [];
      for (let i = 0; i < 10; i++) {
        void h.coordinator.refresh(key, record).then((o) => {
          followers[i] = o;
        });
      }
      await settle();
      assert.equal(
        followers.filter((o) => o !== undefined).length,
        10,
        'every follower answered without waiting for the IdP',
      );
      for (const o of followers) assert.equal(o?.kind, 'transient');
      assert.equal(h.refresher.calls.length, 1);
      assert.equal((await h.store.get(key))?.version, 1);

      // The IdP finally answers: with rotation the old token is now spent, so the answer must be kept.
      h.refresher.last.resolve(
        tokenResult({ now: h.clock.now(), accessToken: 'at-late', refreshToken: 'rt-late', rotated: true }),
      );
      await h.coordinator.settled();
      assert.equal(h.coordinator.pending, 0);
      const stored = await h.store.get(key);
      assert.ok(stored);
      assert.equal(stored.version, 2);
      assert.equal(h.sessions.tokens(stored).refreshToken, 'rt-late');
      assert.equal(h.sessions.tokens(stored).accessToken, 'at-late');
      assert.equal(h.refresher.calls.length, 1);

      // The next request sees a fresh session and needs no grant.
      const next = expectOk(await h.coordinator.refresh(key, record));
      assert.equal(next.version, 2);
      assert.equal(h.refresher.calls.length, 1);
    } finally {
      mock.timers.reset();
    }
  });

  test('a refreshed identity with a different sub is terminal and evicts', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    h.refresher.last.resolve(
      tokenResult({
        now: h.clock.now(),
        refreshToken: 'rt-2',
        claims: { sub: 'someone-else', preferred_username: 'mallory' },
      }),
    );
    assert.equal((await p).kind, 'terminal');
    assert.equal(await h.store.get(key), undefined);
  });

  test('a response that repeats the refresh token (no rotation) keeps it and its age', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    // What OidcProvider.refresh returns when the token response has no refresh_token.
    h.refresher.last.resolve(
      tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: 'rt-1', rotated: false }),
    );
    const rec = expectOk(await p);
    assert.equal(h.sessions.tokens(rec).refreshToken, 'rt-1');
    assert.equal(rec.hasRefreshToken, true);
    assert.equal(rec.refreshIssuedAt, record.refreshIssuedAt, 'age counts from when the token was issued');
    assert.equal(h.sessions.tokens((await h.store.get(key))!).accessToken, 'at-2');
  });

  test('a response without a refresh token keeps the old one', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    // The IdP's answer as-is: no refresh_token, so nothing rotated.
    h.refresher.last.resolve(
      tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: undefined }),
    );
    const rec = expectOk(await p);
    assert.equal(h.sessions.tokens(rec).refreshToken, 'rt-1');
    assert.equal(h.sessions.tokens(rec).accessToken, 'at-2');
    assert.equal(rec.hasRefreshToken, true, 'the session can still be renewed at the next expiry');
    assert.equal(rec.refreshIssuedAt, record.refreshIssuedAt);
    const stored = (await h.store.get(key))!;
    assert.equal(h.sessions.tokens(stored).refreshToken, 'rt-1');

    // And the next cycle uses it.
    h.clock.advance(300_000);
    const p2 = h.coordinator.refresh(key, stored);
    await settle();
    assert.equal(h.refresher.calls[1]?.refreshToken, 'rt-1');
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-3', refreshToken: 'rt-3' }));
    expectOk(await p2);
  });

  test('identity is re-extracted from the refreshed claims (a lost group is lost)', async () => {
    const h = harness();
    const { key, record } = await login(h);
    assert.deepEqual(record.identity.groups, ['admins', 'dev']);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    h.refresher.last.resolve(
      tokenResult({
        now: h.clock.now(),
        refreshToken: 'rt-2',
        claims: { sub: 'user-1', preferred_username: 'alice', email: 'alice@new.example', groups: ['dev'] },
      }),
    );
    const rec = expectOk(await p);
    assert.deepEqual(rec.identity.groups, ['dev']);
    assert.equal(rec.identity.email, 'alice@new.example');
    assert.deepEqual((await h.store.get(key))?.identity.groups, ['dev']);
  });

  test('a response without claims (no ID token) keeps the identity', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), refreshToken: 'rt-2', claims: undefined }));
    const rec = expectOk(await p);
    assert.deepEqual(rec.identity, record.identity);
  });

  test('a concurrent write to the record does not lose the new tokens (compare-and-set retry)', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    // Some other writer bumps the version (still expired, so not a renewal).
    const bumped = { ...record, version: record.version + 1, lastSeenAt: h.clock.now() };
    assert.ok(await h.sessions.store.put(key, bumped, h.sessions.ttl(bumped), record.version));
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), accessToken: 'at-2', refreshToken: 'rt-2' }));
    const rec = expectOk(await p);
    assert.equal(rec.version, 3);
    assert.equal(rec.lastSeenAt, h.clock.now(), 'built on the newest record');
    assert.equal(h.sessions.tokens((await h.store.get(key))!).refreshToken, 'rt-2');
  });

  test('a session deleted before the grant ends without calling the IdP', async () => {
    const h = harness();
    const { key, record } = await login(h);
    await h.store.delete(key);
    h.clock.advance(300_000);
    assert.equal((await h.coordinator.refresh(key, record)).kind, 'terminal');
    assert.equal(h.refresher.calls.length, 0);
  });

  test('a session deleted during the grant (logout) is not resurrected', async () => {
    const h = harness();
    const { key, record } = await login(h);
    h.clock.advance(300_000);
    const p = h.coordinator.refresh(key, record);
    await settle();
    await h.store.delete(key);
    h.refresher.last.resolve(tokenResult({ now: h.clock.now(), refreshToken: 'rt-2' }));
    assert.equal((await p).kind, 'terminal');
    assert.equal(await h.store.get(key), undefined);
  });

  test('a session without a refresh token is terminal without calling the IdP', async () => {
    const h = harness();
    const { key, record } = await login(h, undefined, null);
    assert.equal(record.hasRefreshToken, false);
    h.clock.advance(300_000);
    assert.equal((await h.coordinator.refresh(key, record)).kind, 'terminal');
    assert.equal(h.refresher.calls.length, 0);
  });
});
