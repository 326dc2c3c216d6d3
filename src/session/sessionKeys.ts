import type { RecordAuthenticator } from './authenticatedStore.js';
import { SessionIdCodec } from './cookieCodec.js';
import type { SessionRecord } from './record.js';
import { RecordMac, type RecordRejection } from './recordMac.js';
import { TokenSealer } from './tokenSealer.js';

/**
 * Everything `session.secret` and `previousSecrets` feed in the session layer — the cookie
 * codec, the token sealer and the record MAC — built together from one list (`secrets[0]` signs
 * and seals, the rest still verify and open). A secret rotation (SessionService.rotateSecrets)
 * replaces the whole set by one assignment, so no request sees a cookie codec of one rotation
 * and a record MAC of another.
 */
export class SessionKeys implements RecordAuthenticator {
  readonly codec: SessionIdCodec;
  readonly sealer: TokenSealer;
  private readonly mac: RecordMac;

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new Error('SessionKeys needs at least one secret');
    this.codec = new SessionIdCodec([...secrets]);
    this.sealer = new TokenSealer([...secrets]);
    this.mac = new RecordMac([...secrets]);
  }

  sign(storeKey: string, rec: SessionRecord): SessionRecord {
    return this.mac.sign(storeKey, rec);
  }

  /**
   * The record MAC, and then the key its tokens are sealed with: a record re-signed after a
   * rotation without new tokens (a touch-free rewrite such as the silent-upgrade mark) carries a
   * new MAC around tokens sealed under the old secret. Once that secret is dropped, the record is
   * refused here (`unknown_key`: the normal sign-in path) rather than failing to open later (a 500).
   */
  verify(storeKey: string, rec: SessionRecord): RecordRejection | undefined {
    const rejected = this.mac.verify(storeKey, rec);
    if (rejected) return rejected;
    return this.sealer.knowsKeyOf(rec.tokens) ? undefined : 'unknown_key';
  }
}
