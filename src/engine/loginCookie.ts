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
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = deriveKey(secret, 'login-cookie');
  }

  fresh(nowSec: number): LoginCookieState {
    return { browserId: randomToken(16), logins: 0, windowStartSec: nowSec };
  }

  encode(s: LoginCookieState): string {
    const body = `${s.browserId}.${s.logins}.${s.windowStartSec}`;
    return `${body}.${hmacB64url(this.key, body, 16)}`;
  }

  decode(v: string | undefined): LoginCookieState | undefined {
    if (!v || v.length > 128) return undefined;
    const parts = v.split('.');
    if (parts.length !== 4) return undefined;
    const [browserId, logins, start, tag] = parts as [string, string, string, string];
    if (!safeEqual(tag, hmacB64url(this.key, `${browserId}.${logins}.${start}`, 16))) return undefined;
    const a = Number(logins);
    const w = Number(start);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(w) || browserId.length !== 22) return undefined;
    return { browserId, logins: a, windowStartSec: w };
  }
}
