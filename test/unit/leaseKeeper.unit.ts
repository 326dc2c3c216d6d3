import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { LeaseKeeper, MAX_HOLD_LEASES } from '../../src/refresh/leaseKeeper.js';
import type { RefreshLock } from '../../src/store/types.js';
import { createLogger } from '../../src/util/log.js';

/** A lock that records renewals; `owned` says whether the holder still owns it. */
function recordingLock(owned: () => boolean) {
  const renewals: number[] = [];
  const lock: RefreshLock = {
    acquire: async () => 'token',
    release: async () => undefined,
    waitForRelease: async () => undefined,
    renew: async (_name, token, leaseMs) => {
      assert.equal(token, 'token');
      renewals.push(leaseMs);
      return owned();
    },
  };
  return { lock, renewals };
}

/** A logger whose lines can be awaited: resolves on the first line whose msg contains `text`. */
function watchedLogger() {
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const msg = String((JSON.parse(chunk.toString()) as { msg: string }).msg);
      for (const w of waiters.filter((w) => msg.includes(w.text))) w.resolve();
      cb();
    },
  });
  return {
    logger: createLogger('debug', sink),
    logged: (text: string) => new Promise<void>((resolve) => waiters.push({ text, resolve })),
  };
}

/**
 * The keeper's timer is unref'd (in the gateway the grant's own socket keeps the process alive):
 * here a referenced timer stands in for that socket while a test awaits the keeper.
 */
async function alive<T>(p: Promise<T>): Promise<T> {
  const hold = setInterval(() => undefined, 1000);
  try {
    return await p;
  } finally {
    clearInterval(hold);
  }
}

describe('LeaseKeeper', () => {
  test('renews about every third of the lease, and never past MAX_HOLD_LEASES lease lengths', async () => {
    const { lock, renewals } = recordingLock(() => true);
    const { logger, logged } = watchedLogger();
    const tooLong = logged('has run too long');
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 60, logger, 'k');
    await alive(tooLong);
    const count = renewals.length;
    // About 3 per lease over MAX_HOLD_LEASES leases; a loaded machine may skip some ticks.
    assert.ok(count >= 5, `renewed ${count} times before giving up`);
    assert.ok(count <= 3 * MAX_HOLD_LEASES, `at most every third of the lease (${count})`);
    assert.ok(
      renewals.every((ms) => ms === 60),
      'each renewal is one lease length',
    );
    keeper.stop();
  });

  test('a lease lost to someone else is not renewed again', async () => {
    let owned = true;
    const { lock, renewals } = recordingLock(() => owned);
    const { logger, logged } = watchedLogger();
    const lost = logged('lease lost');
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 30, logger, 'k');
    assert.equal(keeper.active, true);
    owned = false;
    await alive(lost);
    assert.equal(keeper.active, false, 'its timer is gone');
    assert.equal(renewals.length, 1);
  });

  test('stop() ends the renewals', () => {
    const { lock } = recordingLock(() => true);
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 30_000, createLogger('silent'), 'k');
    keeper.stop();
    assert.equal(keeper.active, false);
  });
});
