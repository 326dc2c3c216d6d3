import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import { GatewayMetrics } from '../../src/metrics.js';
import type { TokenResult } from '../../src/oidc/tokenResult.js';
import { RefreshCoordinator } from '../../src/refresh/coordinator.js';
import { SessionService } from '../../src/session/service.js';
import type { CachedStore } from '../../src/store/cachedStore.js';
import type { RedisStore } from '../../src/store/redisStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { coordinatorSettings, type Deferred, deferred, tokenResult } from '../unit/fixtures.js';
import { dropPrefix, openStore, requireRedis, uniquePrefix } from './helpers.js';

const LEASE_MS = 1000;

/**
 * Two replicas (two stores on one Redis, two coordinators) and a refresh that runs for many lease
 * lengths after the lock was taken — what a slow userinfo or JWKS fetch after the grant does.
 * The leader renews its lease, so the other replica never takes it and never presents the refresh
 * token the leader is spending: one grant.
 */
describe('refresh lease renewal (real Redis)', () => {
  const prefix = uniquePrefix('lease');
  let redis: Redis;
  let storeA: CachedStore<RedisStore>;
  let storeB: CachedStore<RedisStore>;

  before(async () => {
    redis = await requireRedis();
    storeA = await openStore(prefix);
    storeB = await openStore(prefix);
  });
  after(async () => {
    await storeA?.close();
    await storeB?.close();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('a refresh that outlasts its lease keeps it: the other replica waits, no second grant', async () => {
    const clock = new ManualClock(Date.now());
    const service = (store: CachedStore<RedisStore>) =>
      new SessionService(
        store,
        {
          secrets: ['lease-test-secret-0123456789-0123456789'],
          maxAgeMs: 86_400_000,
          idleTimeoutMs: 0,
          claims: DEFAULT_CLAIM_MAPPING,
        },
        clock,
      );
    const settings = coordinatorSettings({ leaseMs: LEASE_MS, maxInFlight: 10 });
    // Replica A's grant is held open by the test; replica B's must never be called.
    let leaderCalled!: () => void;
    const leaderStarted = new Promise<void>((r) => {
      leaderCalled = r;
    });
    let grantA: Deferred<TokenResult> | undefined;
    const idpA = {
      refresh() {
        grantA = deferred<TokenResult>();
        leaderCalled();
        return grantA.promise;
      },
    };
    const grantsB: string[] = [];
    const idpB = {
      async refresh(rt: string): Promise<TokenResult> {
        grantsB.push(rt);
        throw new Error('replica B presented the refresh token replica A is spending');
      },
    };
    const sessionsA = service(storeA);
    const logger = createLogger('silent');
    const a = new RefreshCoordinator(sessionsA, idpA, settings, clock, logger, new GatewayMetrics());
    const b = new RefreshCoordinator(service(storeB), idpB, settings, clock, logger, new GatewayMetrics());

    const claims = { sub: 'user-1', preferred_username: 'alice' };
    const { key, record } = await sessionsA.create(
      tokenResult({ now: clock.now(), refreshToken: 'rt-1', claims }),
      sessionsA.identityFrom(claims),
    );
    clock.advance(301_000); // expired

    const leader = a.refresh(key, record);
    await leaderStarted;
    // B keeps finding the lock held (renewed each LEASE_MS / 3) through its bounded rounds.
    const follower = await b.refresh(key, record);
    assert.deepEqual(grantsB, [], 'no second grant while the first one runs');
    assert.equal(follower.kind, 'transient', JSON.stringify(follower));
    const ttl = await redis.pttl(storeA.inner.keys.lock(`refresh:${key}`));
    assert.ok(ttl > 0 && ttl <= LEASE_MS, `the leader still holds a live lease (PTTL ${ttl})`);

    grantA!.resolve(tokenResult({ now: clock.now(), accessToken: 'at-2', refreshToken: 'rt-2', claims }));
    const done = await leader;
    assert.equal(done.kind, 'ok');
    assert.equal(await redis.exists(storeA.inner.keys.lock(`refresh:${key}`)), 0, 'released');
    // B now finds the renewed session and serves it without a grant.
    const again = await b.refresh(key, record);
    assert.equal(again.kind, 'ok');
    assert.deepEqual(grantsB, []);
  });
});
