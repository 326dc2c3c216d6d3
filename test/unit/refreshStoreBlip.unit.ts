import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import { GatewayMetrics } from '../../src/metrics.js';
import { OidcError } from '../../src/oidc/errors.js';
import { RefreshCoordinator } from '../../src/refresh/coordinator.js';
import { SessionService } from '../../src/session/service.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { GatehouseError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { coordinatorSettings, T0, tokenResult } from './fixtures.js';

describe('refresh: a store error right after a rotating grant', () => {
  test('the renewed tokens are still stored (retried), so the next refresh works', async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryStore({ maxSessions: 100, clock });
    let failPuts = 0;
    const put = store.put.bind(store);
    store.put = async (...a: Parameters<MemoryStore['put']>) => {
      if (failPuts > 0) {
        failPuts--;
        throw new GatehouseError('store_unavailable', 503, 'The session store is unavailable.', {});
      }
      return put(...a);
    };
    const sessions = new SessionService(
      store,
      { secrets: ['s'.repeat(40)], maxAgeMs: 86_400_000, idleTimeoutMs: 0, claims: DEFAULT_CLAIM_MAPPING },
      clock,
    );
    // an IdP with rotation and reuse detection
    let current = 'rt-1';
    let n = 1;
    const presented: string[] = [];
    const idp = {
      async refresh(rt: string) {
        presented.push(rt);
        if (rt !== current)
          throw new OidcError('refused', { oauthError: 'invalid_grant', description: 'reused', status: 400 });
        current = `rt-${++n}`;
        return tokenResult({ now: clock.now(), accessToken: `at-${n}`, refreshToken: current });
      },
    };
    const co = new RefreshCoordinator(
      sessions,
      idp,
      coordinatorSettings(),
      clock,
      createLogger('silent'),
      new GatewayMetrics(),
    );
    const claims = { sub: 'user-1', preferred_username: 'alice' };
    const { key, record } = await sessions.create(
      tokenResult({ now: T0, refreshToken: 'rt-1', claims }),
      sessions.identityFrom(claims),
    );
    clock.advance(301_000);
    failPuts = 2; // two failed writes (a Redis blip) after the IdP rotated rt-1 → rt-2
    assert.equal((await co.refresh(key, record)).kind, 'ok');
    const stored = (await store.get(key))!;
    assert.equal(sessions.tokens(stored).refreshToken, 'rt-2', 'the rotated token was not lost');
    clock.advance(301_000);
    assert.equal((await co.refresh(key, stored)).kind, 'ok');
    assert.deepEqual(presented, ['rt-1', 'rt-2'], 'never a spent token');
  });
});
