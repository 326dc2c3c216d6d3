// IdP login sessions. Each completed login is one session; its id is the `sid` claim that
// back-channel logout tokens refer to, so the gateway can end exactly that session. The browser
// holds the sid in the IdP's session cookie (frontchannel.ts): that is its SSO session, which lets
// a later prompt=none authorization pass without a login page (authorize.ts).
import { ExpiringMap } from './expiringMap.js';
import { randomToken } from './tokens.js';

interface LoginSession {
  sub: string;
  /** The client the login was for: whose logout URIs hear about this session, and the `aud`. */
  clientId: string;
  /** When the user logged in, epoch seconds: the auth_time of every code this session approves. */
  authTime: number;
}

export type { LoginSession };

export class SessionStore {
  readonly #sessions: ExpiringMap<string, LoginSession>;
  /** sub → latest sid: a back-channel logout given only a sub also names its latest session. */
  readonly #latest: ExpiringMap<string, string>;

  constructor(maxEntries = 100_000) {
    this.#sessions = new ExpiringMap(maxEntries);
    this.#latest = new ExpiringMap(maxEntries);
  }

  create(sub: string, clientId: string, expiresAt: number, authTime: number): string {
    const sid = randomToken(16);
    this.#sessions.set(sid, { sub, clientId, authTime }, expiresAt);
    this.#latest.set(sub, sid, expiresAt);
    return sid;
  }

  get(sid: string, now: number): Readonly<LoginSession> | undefined {
    return this.#sessions.get(sid, now);
  }

  subOf(sid: string, now: number): string | undefined {
    return this.#sessions.get(sid, now)?.sub;
  }

  clientOf(sid: string, now: number): string | undefined {
    return this.#sessions.get(sid, now)?.clientId;
  }

  latestSid(sub: string, now: number): string | undefined {
    return this.#latest.get(sub, now);
  }

  end(sid: string, now: number): void {
    const session = this.#sessions.get(sid, now);
    if (session === undefined) return;
    this.#sessions.delete(sid);
    if (this.#latest.get(session.sub, now) === sid) this.#latest.delete(session.sub);
  }

  sweep(now: number): void {
    this.#sessions.sweep(now);
    this.#latest.sweep(now);
  }
}
