import type { SessionRecord } from './record.js';
import type { RecordRejection } from './recordMac.js';
import type { GetOptions, SessionStore } from './store.js';
import { StoreDecorator } from './storeDecorator.js';

/** Told once per refused record object (log it), and on every refused read (count it). */
export interface RejectionObserver {
  /** A record read for `key` failed verification for the first time (this object). */
  firstSeen(key: string, reason: RecordRejection): void;
  /** Every read answered "no session" because the record failed verification. */
  refused(reason: RecordRejection): void;
}

/** What signs records on write and checks them on read (RecordMac; SessionKeys adds the token seal). */
export interface RecordAuthenticator {
  /** A copy of `rec` carrying a MAC for `storeKey`. */
  sign(storeKey: string, rec: SessionRecord): SessionRecord;
  /** undefined when `rec` is authentic for `storeKey`, else why not. Never throws. */
  verify(storeKey: string, rec: SessionRecord): RecordRejection | undefined;
}

interface Verdict<A> {
  key: string;
  /** The authenticator that gave this verdict (or signed the record): a rekey makes it stale. */
  by: A;
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
 * record this layer wrote is trusted without a MAC check. A verdict holds for the authenticator
 * that gave it only: after `rekey` (a secret rotation) every record is verified again once.
 */
export class AuthenticatedStore<A extends RecordAuthenticator = RecordAuthenticator> extends StoreDecorator {
  private readonly verdicts = new WeakMap<SessionRecord, Verdict<A>>();

  constructor(
    inner: SessionStore,
    private auth: A,
    private readonly observer?: RejectionObserver,
  ) {
    super(inner);
  }

  /** The authenticator that signs from now on. */
  get authenticator(): A {
    return this.auth;
  }

  /**
   * Secret rotation: `next` signs every record written from now on and verifies every record read.
   * Every cached verdict becomes stale at once — a record accepted under a secret since dropped is
   * checked again at its next read and refused; one refused as `unknown_key` before the new secret
   * was known is checked again and may now pass. A request already holding a record keeps
   * `authenticatedBy` (its store key and the authenticator that accepted it) to finish with.
   */
  rekey(next: A): void {
    this.auth = next;
  }

  /**
   * The store key a record was verified or written under, and by which authenticator; undefined
   * for a record this layer has not authenticated (its sealed tokens are opened with that key as
   * associated data).
   */
  authenticatedBy(rec: SessionRecord): { key: string; by: A } | undefined {
    const v = this.verdicts.get(rec);
    return v && !v.rejected ? { key: v.key, by: v.by } : undefined;
  }

  /** The store key of `authenticatedBy`. */
  keyOf(rec: SessionRecord): string | undefined {
    return this.authenticatedBy(rec)?.key;
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
    const by = this.auth;
    if (!v || v.key !== key || v.by !== by) {
      const rejected = by.verify(key, rec);
      v = rejected ? { key, by, rejected } : { key, by };
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
    // Taken once: a rotation while the write is under way must not mark it as signed by the new one.
    const by = this.auth;
    const signed = by.sign(key, rec);
    const ok = await this.inner.put(key, signed, ttlMs, expectedVersion);
    if (ok) {
      // The caller goes on using `rec` (e.g. a refresh outcome), the store hands out `signed`.
      this.verdicts.set(signed, { key, by });
      this.verdicts.set(rec, { key, by });
    }
    return ok;
  }
}
