import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { LeaseKeeper, type LeaseTimer, MAX_HOLD_LEASES } from '../../src/refresh/leaseKeeper.js';
import type { RefreshLock } from '../../src/session/store.js';
import { createLogger } from '../../src/util/log.js';

/**
 * A timer that only moves when told to: `advance(ms)` runs every tick that falls due, in order,
 * each tick's work awaited before the next; `fire()` runs one tick of each timer now without
 * waiting (for a renewal held open while the next tick comes).
 */
class SteppedTimer implements LeaseTimer {
  private t = 0;
  private readonly timers = new Set<{ every: number; next: number; tick: () => Promise<void> }>();

  now(): number {
    return this.t;
  }

  every(ms: number, tick: () => Promise<void>): () => void {
    const entry = { every: ms, next: this.t + ms, tick };
    this.timers.add(entry);
    return () => this.timers.delete(entry);
  }

  /** Timers still registered (a stopped keeper leaves none). */
  get registered(): number {
    return this.timers.size;
  }

  fire(): Array<Promise<void>> {
    return [...this.timers].map((e) => e.tick());
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers].filter((e) => e.next <= end).sort((x, y) => x.next - y.next)[0];
      if (!due) break;
      this.t = due.next;
      due.next += due.every;
      await due.tick();
    }
    this.t = end;
  }
}

/** A lock that records renewals; `answer` decides each renewal's outcome. */
function recordingLock(answer: () => Promise<boolean>) {
  const renewals: number[] = [];
  const lock: RefreshLock = {
    acquire: async () => 'token',
    release: async () => undefined,
    waitForRelease: async () => undefined,
    renew: (_name, token, leaseMs) => {
      assert.equal(token, 'token');
      renewals.push(leaseMs);
      return answer();
    },
  };
  return { lock, renewals };
}

/** A logger whose messages are collected. */
function collectingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(String((JSON.parse(chunk.toString()) as { msg: string }).msg));
      cb();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

describe('LeaseKeeper', () => {
  test('renews every third of the lease, one lease length each time, and never past MAX_HOLD_LEASES', async () => {
    const timer = new SteppedTimer();
    const { lock, renewals } = recordingLock(async () => true);
    const { logger, lines } = collectingLogger();
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 60, logger, 'k', timer);
    await timer.advance(19);
    assert.equal(renewals.length, 0, 'not before a third of the lease');
    await timer.advance(1);
    assert.deepEqual(renewals, [60]);
    await timer.advance(40);
    assert.equal(renewals.length, 3, 'at 20, 40 and 60 ms');
    // A renewal at t extends the lease to t + 60; the last one allowed ends exactly at the hold limit.
    await timer.advance(60 * MAX_HOLD_LEASES);
    assert.equal(
      renewals.length,
      3 * MAX_HOLD_LEASES - 3,
      'every tick up to the last that stays within the limit',
    );
    assert.ok(
      renewals.every((ms) => ms === 60),
      'each renewal is one lease length',
    );
    assert.equal(keeper.active, false);
    assert.equal(timer.registered, 0, 'its timer is gone');
    assert.equal(lines.filter((l) => l.includes('has run too long')).length, 1);
  });

  test('a lease lost to someone else is not renewed again', async () => {
    const timer = new SteppedTimer();
    let owned = true;
    const { lock, renewals } = recordingLock(async () => owned);
    const { logger, lines } = collectingLogger();
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 30, logger, 'k', timer);
    await timer.advance(10);
    assert.equal(renewals.length, 1);
    assert.equal(keeper.active, true);
    owned = false;
    await timer.advance(10);
    assert.equal(keeper.active, false);
    assert.ok(lines.some((l) => l.includes('lease lost')));
    await timer.advance(1000);
    assert.equal(renewals.length, 2, 'no renewal after the loss');
    assert.equal(timer.registered, 0);
  });

  test('a failed renewal (store unreachable) is retried at the next tick', async () => {
    const timer = new SteppedTimer();
    let fail = true;
    const { lock, renewals } = recordingLock(async () => {
      if (fail) throw new Error('store unavailable');
      return true;
    });
    const { logger, lines } = collectingLogger();
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 30, logger, 'k', timer);
    await timer.advance(10);
    assert.equal(keeper.active, true, 'still trying');
    assert.ok(lines.some((l) => l.includes('renewal failed')));
    fail = false;
    await timer.advance(10);
    assert.equal(renewals.length, 2);
    assert.equal(keeper.active, true);
    keeper.stop();
  });

  test('one renewal at a time: a tick while one is in flight does not send another', async () => {
    const timer = new SteppedTimer();
    let release!: (owned: boolean) => void;
    const { lock, renewals } = recordingLock(
      () =>
        new Promise<boolean>((r) => {
          release = r;
        }),
    );
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 30, createLogger('silent'), 'k', timer);
    const first = timer.fire(); // its renewal hangs until released
    assert.equal(renewals.length, 1);
    await Promise.all(timer.fire());
    assert.equal(renewals.length, 1, 'the second tick sent nothing while the first was pending');
    release(true);
    await Promise.all(first);
    const third = timer.fire();
    assert.equal(renewals.length, 2, 'renews again once the first finished');
    release(true);
    await Promise.all(third);
    keeper.stop();
  });

  test('stop() ends the renewals and removes the timer', async () => {
    const timer = new SteppedTimer();
    const { lock, renewals } = recordingLock(async () => true);
    const keeper = new LeaseKeeper(lock, 'refresh:k', 'token', 30_000, createLogger('silent'), 'k', timer);
    keeper.stop();
    assert.equal(keeper.active, false);
    assert.equal(timer.registered, 0);
    await timer.advance(60_000);
    assert.equal(renewals.length, 0);
  });
});
