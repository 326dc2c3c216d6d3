import { deriveKey, hmacB64url, randomToken, safeEqual, sha256b64url } from '../util/crypto.js';

/**
 * The browser holds `<id>.<tag>`: 32 random bytes and a truncated HMAC over them. A forged or
 * corrupted value is rejected by the tag check before any store read, and the store is keyed by
 * a hash of the id, so a dump of the store yields nothing that works as a cookie.
 */
export class SessionIdCodec {
  private readonly keys: Buffer[];

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
    const dot = cookieValue.indexOf('.');
    if (dot !== 43) return undefined;
    const id = cookieValue.slice(0, dot);
    const tag = cookieValue.slice(dot + 1);
    for (const key of this.keys) {
      if (safeEqual(tag, this.tag(key, id))) return storeKeyFor(id);
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
