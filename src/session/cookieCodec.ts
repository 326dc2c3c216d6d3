import { deriveKey, hmacB64url, randomToken, safeEqual, sha256b64url } from '../util/crypto.js';

/**
 * The browser holds `<id>.<tag>`: 32 random bytes and a truncated HMAC over them. A forged or
 * corrupted value is rejected by the tag check before any store read, and the store is keyed by
 * a hash of the id, so a dump of the store yields nothing that works as a cookie.
 */
export class SessionIdCodec {
  private readonly keys: Buffer[];
  /**
   * Cookie values already verified → store key: skips the HMAC and hash on every later request of
   * the session. Only verified values enter; bounded by clearing when full (cheaper than an LRU).
   */
  private readonly verified = new Map<string, string>();
  private static readonly MAX_VERIFIED = 10_000;

  /** `secrets[0]` signs; the rest are accepted during a secret rotation. */
  constructor(secrets: string[]) {
    this.keys = secrets.map((s) => deriveKey(s, 'cookie-mac'));
  }

  /** A fresh session id and the cookie value that carries it. */
  mint(): { id: string; cookieValue: string; storeKey: string } {
    const id = randomToken(32);
    return { id, cookieValue: `${id}.${this.tag(this.keys[0]!, id)}`, storeKey: storeKeyFor(id) };
  }

  /** The store key for a cookie value, or undefined if the value is malformed or forged. */
  open(cookieValue: string | undefined): string | undefined {
    if (!cookieValue || cookieValue.length !== 43 + 1 + 22) return undefined;
    const known = this.verified.get(cookieValue);
    if (known) return known;
    const dot = cookieValue.indexOf('.');
    if (dot !== 43) return undefined;
    const id = cookieValue.slice(0, dot);
    const tag = cookieValue.slice(dot + 1);
    for (const key of this.keys) {
      if (safeEqual(tag, this.tag(key, id))) {
        const storeKey = storeKeyFor(id);
        if (this.verified.size >= SessionIdCodec.MAX_VERIFIED) this.verified.clear();
        this.verified.set(cookieValue, storeKey);
        return storeKey;
      }
    }
    return undefined;
  }

  private tag(key: Buffer, id: string): string {
    return hmacB64url(key, id, 16);
  }
}

export function storeKeyFor(id: string): string {
  return sha256b64url(id);
}
