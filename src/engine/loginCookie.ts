import { deriveKey, hmacB64url, randomToken, safeEqual } from '../util/crypto.js';

/**
 * The login cookie identifies a browser across its login flows (so a callback is accepted only
 * from the browser that started it) and counts logins completed recently: a browser that has just
 * logged in several times and is *again* sent to sign in is in a loop (its session does not
 * stick), and gets an error page instead of another redirect. Counting completed logins rather
 * than starts keeps ten tabs restored at once from looking like a loop.
 * Signed, not secret: `<browserId>.<logins>.<windowStartSec>.<tag>`.
 */
export interface LoginCookieState {
  browserId: string;
  logins: number;
  windowStartSec: number;
}

export class LoginCookieCodec {
  private readonly keys: Buffer[];

  /** `secrets[0]` signs; the rest (previousSecrets) are still accepted, so a secret rotation does not break logins in flight. */
  constructor(secrets: string | string[]) {
    this.keys = (Array.isArray(secrets) ? secrets : [secrets]).map((s) => deriveKey(s, 'login-cookie'));
  }

  fresh(nowSec: number): LoginCookieState {
    return { browserId: randomToken(16), logins: 0, windowStartSec: nowSec };
  }

  encode(s: LoginCookieState): string {
    const body = `${s.browserId}.${s.logins}.${s.windowStartSec}`;
    return `${body}.${hmacB64url(this.keys[0]!, body, 16)}`;
  }

  decode(v: string | undefined): LoginCookieState | undefined {
    if (!v || v.length > 128) return undefined;
    const parts = v.split('.');
    if (parts.length !== 4) return undefined;
    const [browserId, logins, start, tag] = parts as [string, string, string, string];
    const body = `${browserId}.${logins}.${start}`;
    if (!this.keys.some((k) => safeEqual(tag, hmacB64url(k, body, 16)))) return undefined;
    const a = Number(logins);
    const w = Number(start);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(w) || browserId.length !== 22) return undefined;
    return { browserId, logins: a, windowStartSec: w };
  }
}
