import type { SessionRecord } from './record.js';
import type { RecordMac, RecordRejection } from './recordMac.js';
import type { GetOptions, SessionStore } from './store.js';
import { StoreDecorator } from './storeDecorator.js';

/** Told once per refused record object (log it), and on every refused read (count it). */
export interface RejectionObserver {
  /** A record read for `key` failed verification for the first time (this object). */
  firstSeen(key: string, reason: RecordRejection): void;
  /** Every read answered "no session" because the record failed verification. */
  refused(reason: RecordRejection): void;
}

interface Verdict {
  key: string;
  rejected?: RecordRejection;
}

/**
 * The session layer's view of the store: every record written is MACed for its store key
 * (`RecordMac`), every record read is verified, and one that fails is answered as absent — the
 * same "no session" path as a record that expired (navigation → login, API → 401). Everything
 * else passes straight through (`StoreDecorator`); the store itself stays a dumb key/value port.
 *
 * Hot path: verdicts are cached per record object, so a record the store hands out again (the
 * memory store's own object, the Redis store's L1 entry) is verified once, not per request; a
 * record this layer wrote is trusted without a MAC check.
 */
export class AuthenticatedStore extends StoreDecorator {
  private readonly verdicts = new WeakMap<SessionRecord, Verdict>();

  constructor(
    inner: SessionStore,
    private readonly mac: RecordMac,
    private readonly observer?: RejectionObserver,
  ) {
    super(inner);
  }

  /**
   * The store key a record was verified or written under, or undefined for a record this layer
   * has not authenticated (its sealed tokens are opened with that key as associated data).
   */
  keyOf(rec: SessionRecord): string | undefined {
    const v = this.verdicts.get(rec);
    return v && !v.rejected ? v.key : undefined;
  }

  override get(key: string, opts?: GetOptions): Promise<SessionRecord | undefined> {
    // One derived promise, no extra async frame: this is on every authenticated request.
    return this.inner
      .get(key, opts)
      .then((rec) => (rec === undefined || this.accepted(key, rec) ? rec : undefined));
  }

  private accepted(key: string, rec: SessionRecord): boolean {
    if (typeof rec !== 'object' || rec === null) return this.refuse(key, 'malformed', true);
    let v = this.verdicts.get(rec);
    let first = false;
    if (!v || v.key !== key) {
      const rejected = this.mac.verify(key, rec);
      v = rejected ? { key, rejected } : { key };
      this.verdicts.set(rec, v);
      first = true;
    }
    return v.rejected ? this.refuse(key, v.rejected, first) : true;
  }

  private refuse(key: string, reason: RecordRejection, first: boolean): false {
    if (first) this.observer?.firstSeen(key, reason);
    this.observer?.refused(reason);
    return false;
  }

  override async put(
    key: string,
    rec: SessionRecord,
    ttlMs: number,
    expectedVersion: number | null,
  ): Promise<boolean> {
    const signed = this.mac.sign(key, rec);
    const ok = await this.inner.put(key, signed, ttlMs, expectedVersion);
    if (ok) {
      // The caller goes on using `rec` (e.g. a refresh outcome), the store hands out `signed`.
      this.verdicts.set(signed, { key });
      this.verdicts.set(rec, { key });
    }
    return ok;
  }
}
