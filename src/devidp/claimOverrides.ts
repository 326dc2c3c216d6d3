// Per-test claims: extra or overridden claims that tests attach to logins (POST /__admin/claims,
// DevIdp.setClaims, the login page's "extra claims" field). A rule is taken at login time and
// bound to that login's session (sid), so the ID token, userinfo and refreshed ID tokens of that
// session all agree, and a rule that expires after N logins never changes a live session.
import { ExpiringMap } from './expiringMap.js';

/**
 * Claims the IdP computes from the protocol, never from a test. `sub` is among them: it is the
 * key the IdP finds the user by (userinfo, revoke, back-channel logout), so a different `sub` is
 * a different user (add one with POST /__admin/users), and the sub-mismatch case has its own
 * profile (userinfo-sub-mismatch). The others have failure profiles (wrong-issuer, ...).
 */
export const PROTECTED_CLAIMS: readonly string[] = Object.freeze([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'nonce',
  'azp',
  'sid',
  'auth_time',
  'at_hash',
  'c_hash',
]);

/** At most this many pending rules; a test suite needs a handful. */
export const MAX_CLAIM_RULES = 100;
/** Serialized size cap of one rule's claims: they end up in headers as part of a token. */
export const MAX_CLAIMS_BYTES = 16 * 1024;

export class ClaimsError extends Error {
  override name = 'ClaimsError';
}

export interface ClaimRule {
  /** Username of the user it applies to; absent: anyone. */
  user?: string | undefined;
  claims: Record<string, unknown>;
  /** Logins left; absent: every later login (user rules only). */
  logins?: number | undefined;
}

/** A validated copy of `value` as a claims object, or a ClaimsError saying what is wrong. */
export function validateClaims(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ClaimsError('claims must be a JSON object');
  }
  const claims = value as Record<string, unknown>;
  const forbidden = Object.keys(claims).filter((k) => PROTECTED_CLAIMS.includes(k));
  if (forbidden.length > 0) {
    throw new ClaimsError(`protected claims cannot be set: ${forbidden.join(', ')}`);
  }
  // Merging a `__proto__` key with Object.assign would swap the merged object's prototype.
  if (Object.hasOwn(claims, '__proto__')) throw new ClaimsError('"__proto__" is not a claim name');
  const text = JSON.stringify(claims);
  if (Buffer.byteLength(text) > MAX_CLAIMS_BYTES) {
    throw new ClaimsError(`claims exceed ${MAX_CLAIMS_BYTES} bytes`);
  }
  // A JSON round trip: no shared references with the caller, no undefined/functions, and
  // JSON.parse makes `__proto__` an own key rather than a prototype.
  return JSON.parse(text) as Record<string, unknown>;
}

export class ClaimOverrides {
  #rules: ClaimRule[] = [];
  readonly #bySession: ExpiringMap<string, Record<string, unknown>>;

  constructor(maxSessions = 100_000) {
    this.#bySession = new ExpiringMap(maxSessions);
  }

  /** Validates and stores a rule; `user` must already be resolved to a known username. */
  add(rule: { user?: string | undefined; claims: unknown; logins?: unknown }): ClaimRule {
    const claims = validateClaims(rule.claims);
    const { logins } = rule;
    if (logins !== undefined && (!Number.isInteger(logins) || (logins as number) < 1)) {
      throw new ClaimsError('logins must be a positive integer');
    }
    if (rule.user === undefined && logins === undefined) {
      throw new ClaimsError('claims for anyone need "logins" (a count); name a "user" for every login');
    }
    if (this.#rules.length >= MAX_CLAIM_RULES) {
      throw new ClaimsError(`at most ${MAX_CLAIM_RULES} claim rules may be pending; DELETE them first`);
    }
    const stored: ClaimRule = {
      ...(rule.user === undefined ? {} : { user: rule.user }),
      claims,
      ...(logins === undefined ? {} : { logins: logins as number }),
    };
    this.#rules.push(stored);
    return { ...stored };
  }

  list(): ClaimRule[] {
    return this.#rules.map((r) => ({ ...r, claims: structuredClone(r.claims) }));
  }

  clear(): void {
    this.#rules = [];
  }

  /**
   * The claims for one login by `username`: rules in the order they were added (later ones win),
   * then `formClaims` (the login page's). Counted rules lose one login and go at zero.
   */
  takeForLogin(username: string, formClaims?: Record<string, unknown>): Record<string, unknown> {
    const name = username.toLowerCase();
    const merged: Record<string, unknown> = {};
    for (const rule of this.#rules) {
      if (rule.user !== undefined && rule.user.toLowerCase() !== name) continue;
      Object.assign(merged, structuredClone(rule.claims));
      if (rule.logins !== undefined) rule.logins -= 1;
    }
    this.#rules = this.#rules.filter((r) => r.logins === undefined || r.logins > 0);
    if (formClaims !== undefined) Object.assign(merged, formClaims);
    return merged;
  }

  /** Remembers a login's claims for as long as its session lives. */
  bind(sid: string, claims: Record<string, unknown>, expiresAt: number): void {
    if (Object.keys(claims).length > 0) this.#bySession.set(sid, claims, expiresAt);
  }

  forSession(sid: string | undefined, now: number): Record<string, unknown> {
    if (sid === undefined) return {};
    const claims = this.#bySession.get(sid, now);
    return claims === undefined ? {} : structuredClone(claims);
  }

  sweep(now: number): void {
    this.#bySession.sweep(now);
  }
}
