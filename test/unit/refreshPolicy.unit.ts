import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  graceWindowMs,
  type RefreshSettings,
  refreshAction,
  withinOutageGrace,
} from '../../src/refresh/policy.js';
import { record, T0 } from './fixtures.js';

const S: RefreshSettings = {
  graceMs: 60_000,
  graceMaxFraction: 0.25,
  outageGraceMs: 300_000,
  maxRefreshTokenAgeMs: 0,
};

describe('graceWindowMs', () => {
  test('the configured grace when the token lives long enough', () => {
    assert.equal(graceWindowMs(record({ accessLifetimeMs: 3_600_000 }), S), 60_000);
    assert.equal(graceWindowMs(record({ accessLifetimeMs: 240_000 }), S), 60_000, 'exactly at the cap');
  });

  test('capped at graceMaxFraction × lifetime: a 10 s token with 60 s grace gets 2.5 s', () => {
    assert.equal(graceWindowMs(record({ accessLifetimeMs: 10_000 }), S), 2_500);
    assert.equal(graceWindowMs(record({ accessLifetimeMs: 120_000 }), S), 30_000);
  });

  test('zero grace or zero fraction means no background refresh window', () => {
    assert.equal(graceWindowMs(record(), { ...S, graceMs: 0 }), 0);
    assert.equal(graceWindowMs(record(), { ...S, graceMaxFraction: 0 }), 0);
    assert.equal(graceWindowMs(record({ accessLifetimeMs: 0 }), S), 0);
  });

  test('never negative', () => {
    assert.equal(graceWindowMs(record({ accessLifetimeMs: -5_000 }), S), 0);
  });
});

describe('refreshAction: fresh / background / blocking', () => {
  const rec = record({ accessExpiresAt: T0 + 300_000, accessLifetimeMs: 300_000 });
  const exp = rec.accessExpiresAt;

  test('fresh until the grace window starts', () => {
    assert.equal(refreshAction(rec, T0, S), 'fresh');
    assert.equal(refreshAction(rec, exp - 60_001, S), 'fresh');
  });

  test('background inside the grace window', () => {
    assert.equal(refreshAction(rec, exp - 60_000, S), 'background');
    assert.equal(refreshAction(rec, exp - 1, S), 'background');
  });

  test('blocking from the expiry instant on', () => {
    assert.equal(refreshAction(rec, exp, S), 'blocking');
    assert.equal(refreshAction(rec, exp + 3_600_000, S), 'blocking');
  });

  test('a 10 s token is not refreshed on every request: only its last 2.5 s are background', () => {
    const short = record({ accessExpiresAt: T0 + 10_000, accessLifetimeMs: 10_000 });
    assert.equal(refreshAction(short, T0, S), 'fresh');
    assert.equal(refreshAction(short, T0 + 7_499, S), 'fresh');
    assert.equal(refreshAction(short, T0 + 7_500, S), 'background');
    assert.equal(refreshAction(short, T0 + 10_000, S), 'blocking');
  });

  test('with no grace window the token goes straight from fresh to blocking', () => {
    const s = { ...S, graceMs: 0 };
    assert.equal(refreshAction(rec, exp - 1, s), 'fresh');
    assert.equal(refreshAction(rec, exp, s), 'blocking');
  });

  test('driven by the token expiry, not by session age', () => {
    const old = record({
      createdAt: T0 - 80_000_000,
      lastSeenAt: T0 - 80_000_000,
      refreshIssuedAt: T0 - 80_000_000,
    });
    assert.equal(refreshAction(old, T0, S), 'fresh');
  });
});

describe('refreshAction: no refresh token', () => {
  const rec = record({ hasRefreshToken: false });
  const exp = rec.accessExpiresAt;

  test('fresh until expiry, including the grace window (nothing to refresh with)', () => {
    assert.equal(refreshAction(rec, T0, S), 'fresh');
    assert.equal(refreshAction(rec, exp - 30_000, S), 'fresh');
    assert.equal(refreshAction(rec, exp - 1, S), 'fresh');
  });

  test('end at expiry', () => {
    assert.equal(refreshAction(rec, exp, S), 'end');
    assert.equal(refreshAction(rec, exp + 1_000_000, S), 'end');
  });

  test('no outage grace without a refresh token', () => {
    assert.equal(refreshAction({ ...rec, refreshRetryAt: exp + 60_000 }, exp + 1, S), 'end');
  });
});

describe('refreshAction: maxRefreshTokenAge', () => {
  const s = { ...S, maxRefreshTokenAgeMs: 3_600_000 };

  test('a refresh token within its age refreshes normally', () => {
    const rec = record({ refreshIssuedAt: T0, accessExpiresAt: T0 + 300_000 });
    assert.equal(refreshAction(rec, T0 + 300_000, s), 'blocking');
    assert.equal(refreshAction(rec, T0 + 250_000, s), 'background');
  });

  test('too old and expired → end', () => {
    const rec = record({ refreshIssuedAt: T0 - 3_600_000, accessExpiresAt: T0 });
    assert.equal(refreshAction(rec, T0, s), 'end');
    assert.equal(refreshAction(rec, T0 + 1, s), 'end');
  });

  test('the age limit is inclusive', () => {
    const rec = record({ refreshIssuedAt: T0, accessExpiresAt: T0 + 3_600_000 });
    assert.equal(refreshAction(rec, T0 + 3_599_999, s), 'background');
    assert.equal(refreshAction(rec, T0 + 3_600_000, s), 'end');
  });

  test('too old but not yet expired → serve until expiry (no background refresh)', () => {
    const rec = record({ refreshIssuedAt: T0 - 4_000_000, accessExpiresAt: T0 + 10_000 });
    assert.equal(refreshAction(rec, T0, s), 'fresh');
  });

  test('0 means unlimited', () => {
    const rec = record({ refreshIssuedAt: T0 - 365 * 86_400_000, accessExpiresAt: T0 });
    assert.equal(refreshAction(rec, T0, S), 'blocking');
  });
});

describe('refreshAction: backoff after a transient failure', () => {
  const exp = T0 + 300_000;

  test('expired, retry time not reached, within outage grace → backoff-serve', () => {
    const rec = record({ accessExpiresAt: exp, refreshRetryAt: exp + 5_000 });
    assert.equal(refreshAction(rec, exp, S), 'backoff-serve');
    assert.equal(refreshAction(rec, exp + 4_999, S), 'backoff-serve');
  });

  test('retry time reached → blocking again (a new attempt)', () => {
    const rec = record({ accessExpiresAt: exp, refreshRetryAt: exp + 5_000 });
    assert.equal(refreshAction(rec, exp + 5_000, S), 'blocking');
  });

  test('expired beyond the outage grace while backing off → backoff-fail', () => {
    const rec = record({ accessExpiresAt: exp, refreshRetryAt: exp + 400_000 });
    assert.equal(refreshAction(rec, exp + 299_999, S), 'backoff-serve');
    assert.equal(refreshAction(rec, exp + 300_000, S), 'backoff-fail');
    assert.equal(refreshAction(rec, exp + 399_999, S), 'backoff-fail');
  });

  test('a failed background refresh keeps serving the still-valid token', () => {
    const rec = record({ accessExpiresAt: exp, refreshRetryAt: exp - 1_000 });
    assert.equal(refreshAction(rec, exp - 30_000, S), 'fresh');
    assert.equal(
      refreshAction(rec, exp - 1_000, S),
      'background',
      'retry time reached inside the grace window',
    );
  });

  test('an outage grace of zero fails at once while backing off', () => {
    const rec = record({ accessExpiresAt: exp, refreshRetryAt: exp + 5_000 });
    assert.equal(refreshAction(rec, exp, { ...S, outageGraceMs: 0 }), 'backoff-fail');
  });
});

describe('withinOutageGrace', () => {
  const rec = record({ accessExpiresAt: T0 });
  test('up to outageGrace past the expiry, exclusive', () => {
    assert.equal(withinOutageGrace(rec, T0 - 1, S), true);
    assert.equal(withinOutageGrace(rec, T0 + 299_999, S), true);
    assert.equal(withinOutageGrace(rec, T0 + 300_000, S), false);
    assert.equal(withinOutageGrace(rec, T0, { ...S, outageGraceMs: 0 }), false);
  });
});
