import type { RefreshLock } from '../session/store.js';
import type { Logger } from '../util/log.js';

/** A leader holds its refresh lease at most this many lease lengths, renewals included. */
export const MAX_HOLD_LEASES = 10;

/**
 * The keeper's time: a monotonic clock and a repeating timer. Injectable so a test drives the
 * renewals tick by tick instead of sleeping through real lease lengths.
 */
export interface LeaseTimer {
  /** Monotonic milliseconds (immune to wall-clock steps). */
  now(): number;
  /**
   * Calls `tick` every `ms` until the returned function is called. `tick`'s promise settles when
   * that tick's work is done (a test timer awaits it; the real one does not). Must not keep the
   * process alive: the refresh's own sockets do that.
   */
  every(ms: number, tick: () => Promise<void>): () => void;
}

/** `performance.now()` and an unref'd `setInterval`. */
export const realLeaseTimer: LeaseTimer = {
  now: () => performance.now(),
  every(ms, tick) {
    const timer = setInterval(() => void tick(), ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/**
 * Keeps a refresh lease alive while its holder works. The lease must outlast everything between
 * taking the lock and storing the renewed tokens — the grant, then ID-token verification (a JWKS
 * fetch after key rotation), userinfo, distributed claims and the store write — not only the
 * token call: if it ran out while a slow userinfo call was pending, another replica would take it
 * and present the refresh token this one has just spent. So the lease is renewed every third of
 * its length (compare-and-expire: only its holder can renew it).
 *
 * Bounded: one timer per refresh in flight (itself bounded by `maxInFlight`), one renewal at a
 * time, and never past MAX_HOLD_LEASES lease lengths, so a stuck leader cannot hold a session's
 * refresh forever. A killed replica stops renewing, so its lease still runs out.
 */
export class LeaseKeeper {
  private readonly cancel: () => void;
  private readonly until: number;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly lock: RefreshLock,
    private readonly name: string,
    private readonly token: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly session: string,
    private readonly timer: LeaseTimer = realLeaseTimer,
  ) {
    this.until = timer.now() + leaseMs * MAX_HOLD_LEASES;
    this.cancel = timer.every(Math.max(10, Math.floor(leaseMs / 3)), () => this.renew());
  }

  /** False once stopped, given up (held too long) or lost. */
  get active(): boolean {
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private async renew(): Promise<void> {
    if (this.busy || this.stopped) return;
    if (this.timer.now() + this.leaseMs > this.until) {
      this.logger.warn(
        { session: this.session, heldMs: this.leaseMs * MAX_HOLD_LEASES },
        'refresh lease not renewed further: the refresh has run too long',
      );
      this.stop();
      return;
    }
    this.busy = true;
    try {
      if (!(await this.lock.renew(this.name, this.token, this.leaseMs)) && !this.stopped) {
        this.logger.warn({ session: this.session }, 'refresh lease lost before the refresh finished');
        this.stop();
      }
    } catch (err) {
      // Store unreachable: the lease may run out; try again at the next tick.
      this.logger.debug({ session: this.session, err: String(err) }, 'refresh lease renewal failed');
    } finally {
      this.busy = false;
    }
  }
}
