// Authorization codes, refresh tokens (grouped in families) and access tokens.
//
// Every check-then-mark sequence here is synchronous: two concurrent token requests can never
// both see a code or refresh token as unused, because no await separates the read from the write.
// That is what makes reuse detection exact under a refresh stampede.
import { createHash, randomBytes } from 'node:crypto';
import { ExpiringMap } from './expiringMap.js';

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Tokens are stored by hash, so a heap dump of the dev IdP yields no usable token. */
function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export const CODE_TTL_MS = 60_000;
// Used codes are remembered longer than they are valid, so a late replay still revokes the
// tokens issued from it (RFC 6749 §4.1.2) instead of looking merely unknown.
const CODE_MEMORY_MS = 10 * 60_000;

export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | undefined;
  scope: string;
  sub: string;
  sid: string;
  /** Seconds since the epoch. */
  authTime: number;
  /** Whether this grant may receive a refresh token (decided at authorize time). */
  offline: boolean;
  /** The resource/audience named at authorize (RFC 8707), if any. */
  audience?: string | undefined;
}

interface CodeRecord extends CodeGrant {
  expiresAt: number;
  used: boolean;
  familyId: string | undefined;
}

/** One family per authorization: every refresh token rotated out of it shares its fate. */
export interface Family {
  readonly id: string;
  readonly sub: string;
  readonly clientId: string;
  readonly scope: string;
  readonly sid: string;
  readonly authTime: number;
  /** `aud` of the family's access tokens unless a refresh names another resource. */
  readonly audience: string | undefined;
  revoked: boolean;
  expiresAt: number;
}

interface RefreshRecord {
  familyId: string;
  used: boolean;
}

export interface AccessGrant {
  familyId: string | undefined;
  /** The user's sub, or the client id for a client-credentials token. */
  sub: string;
  clientId: string;
  scope: string;
  /** Undefined for client-credentials tokens (no login session). */
  sid: string | undefined;
  /** Issued by a refresh grant (refresh-loses-group looks at this). */
  viaRefresh: boolean;
  /** The token's `aud`. */
  audience: string;
  /** 'client': a client-credentials token, with no user behind it. */
  subject: 'user' | 'client';
  /** Seconds since the epoch, as in the JWT (introspection answers them). */
  iat: number;
  exp: number | undefined;
  /** Claims added by POST /__admin/mint, repeated by introspection. */
  extraClaims?: Record<string, unknown> | undefined;
}

export type CodeResult =
  | { kind: 'ok'; grant: CodeGrant }
  | { kind: 'unknown' }
  | { kind: 'expired' }
  | { kind: 'replayed'; revoked: boolean };

export type RefreshResult =
  | { kind: 'ok'; family: Family }
  | { kind: 'invalid'; reason: string }
  | { kind: 'invalid_scope' }
  | { kind: 'reused'; family: Family };

export interface UseRefreshOptions {
  /** Mark the token used (rotation); off for profiles that keep the token valid. */
  rotate: boolean;
  /** A narrower scope requested with the refresh (RFC 6749 §6). */
  scope?: string | undefined;
}

function isSubset(requested: string, granted: string): boolean {
  const have = new Set(granted.split(' '));
  return requested.split(' ').every((s) => s === '' || have.has(s));
}

export interface StoreLimits {
  /** Hard cap per map; past it the oldest entry is evicted. */
  maxEntries: number;
}

/** Why a family died: a spent refresh token reused, a code replayed, RFC 7009, POST /__admin/revoke. */
export type RevokeReason = 'reuse' | 'code-replay' | 'revocation' | 'admin';

/** Told of every family revocation (the live console draws them). */
export type RevokeListener = (familyId: string, reason: RevokeReason, now: number) => void;

export class TokenStore {
  readonly #codes: ExpiringMap<string, CodeRecord>;
  readonly #families: ExpiringMap<string, Family>;
  readonly #refresh: ExpiringMap<string, RefreshRecord>;
  readonly #access: ExpiringMap<string, AccessGrant>;

  readonly #onRevoke: RevokeListener;

  constructor(limits: StoreLimits = { maxEntries: 100_000 }, onRevoke: RevokeListener = () => {}) {
    this.#onRevoke = onRevoke;
    this.#codes = new ExpiringMap(limits.maxEntries);
    this.#families = new ExpiringMap(limits.maxEntries);
    this.#refresh = new ExpiringMap(limits.maxEntries);
    this.#access = new ExpiringMap(limits.maxEntries);
  }

  issueCode(grant: CodeGrant, now: number): string {
    const code = randomToken();
    const record: CodeRecord = { ...grant, expiresAt: now + CODE_TTL_MS, used: false, familyId: undefined };
    this.#codes.set(tokenKey(code), record, now + CODE_MEMORY_MS);
    return code;
  }

  /**
   * Marks the code used before any other check, so a code presented with a wrong verifier or
   * redirect_uri is burnt too: an attacker gets one guess, the legitimate client none after.
   */
  consumeCode(code: string, now: number): CodeResult {
    const record = this.#codes.get(tokenKey(code), now);
    if (record === undefined) return { kind: 'unknown' };
    if (record.used) {
      const revoked = record.familyId !== undefined && this.revokeFamily(record.familyId, now, 'code-replay');
      return { kind: 'replayed', revoked };
    }
    record.used = true;
    if (record.expiresAt <= now) return { kind: 'expired' };
    const { expiresAt: _e, used: _u, familyId: _f, ...grant } = record;
    return { kind: 'ok', grant };
  }

  /** Links the tokens issued from a code to it, so a later replay of the code revokes them. */
  createFamily(
    code: string | undefined,
    grant: Pick<CodeGrant, 'sub' | 'clientId' | 'scope' | 'sid' | 'authTime' | 'audience'>,
    expiresAt: number,
    now: number,
  ): Family {
    const family: Family = {
      id: randomToken(16),
      sub: grant.sub,
      clientId: grant.clientId,
      scope: grant.scope,
      sid: grant.sid,
      authTime: grant.authTime,
      audience: grant.audience,
      revoked: false,
      expiresAt,
    };
    this.#families.set(family.id, family, expiresAt);
    // No code behind a device grant's family (deviceGrant.ts): nothing to link then.
    const record = code === undefined ? undefined : this.#codes.get(tokenKey(code), now);
    if (record !== undefined) record.familyId = family.id;
    return family;
  }

  issueRefresh(family: Family, expiresAt: number): string {
    const token = randomToken();
    this.#refresh.set(tokenKey(token), { familyId: family.id, used: false }, expiresAt);
    // Used tokens stay as tombstones until their own expiry, so the family must live as long.
    if (expiresAt > family.expiresAt) {
      family.expiresAt = expiresAt;
      this.#families.setExpiry(family.id, expiresAt);
    }
    return token;
  }

  /**
   * Validates a refresh token and, when `rotate`, marks it used in the same synchronous step.
   * A used token presented again is reuse: the whole family is revoked, newest token included.
   */
  useRefresh(token: string, clientId: string, now: number, opts: UseRefreshOptions): RefreshResult {
    const record = this.#refresh.get(tokenKey(token), now);
    if (record === undefined) return { kind: 'invalid', reason: 'unknown or expired refresh token' };
    const family = this.#families.get(record.familyId, now);
    if (family === undefined) return { kind: 'invalid', reason: 'unknown or expired refresh token' };
    if (family.clientId !== clientId)
      return { kind: 'invalid', reason: 'refresh token was issued to another client' };
    if (family.revoked) return { kind: 'invalid', reason: 'refresh token has been revoked' };
    if (record.used) {
      family.revoked = true;
      this.#onRevoke(family.id, 'reuse', now);
      return { kind: 'reused', family };
    }
    // Checked before marking used, so a bad scope request does not burn the token.
    if (opts.scope !== undefined && !isSubset(opts.scope, family.scope)) return { kind: 'invalid_scope' };
    if (opts.rotate) record.used = true;
    return { kind: 'ok', family };
  }

  recordAccess(token: string, grant: AccessGrant, expiresAt: number, now: number): void {
    this.#access.set(tokenKey(token), grant, expiresAt);
    // The family must outlive its access tokens, or they would read as revoked.
    const family = grant.familyId === undefined ? undefined : this.#families.get(grant.familyId, now);
    if (family !== undefined && expiresAt > family.expiresAt) {
      family.expiresAt = expiresAt;
      this.#families.setExpiry(family.id, expiresAt);
    }
  }

  /** The grant behind a live access token; dead when its family was revoked. */
  lookupAccess(token: string, now: number): AccessGrant | undefined {
    const grant = this.#access.get(tokenKey(token), now);
    if (grant === undefined) return undefined;
    if (grant.familyId !== undefined) {
      const family = this.#families.get(grant.familyId, now);
      if (family === undefined || family.revoked) return undefined;
    }
    return grant;
  }

  revokeFamily(id: string, now: number, reason: RevokeReason = 'revocation'): boolean {
    const family = this.#families.get(id, now);
    if (family === undefined || family.revoked) return false;
    family.revoked = true;
    this.#onRevoke(id, reason, now);
    return true;
  }

  /** RFC 7009: a refresh token revokes its family, an access token only itself. */
  revokeToken(token: string, clientId: string, now: number): void {
    const key = tokenKey(token);
    const refresh = this.#refresh.get(key, now);
    if (refresh !== undefined) {
      const family = this.#families.get(refresh.familyId, now);
      if (family !== undefined && family.clientId === clientId) this.revokeFamily(family.id, now);
      return;
    }
    const access = this.#access.get(key, now);
    if (access !== undefined && access.clientId === clientId) this.#access.delete(key);
  }

  /** Revokes every family of a user; counts the refresh tokens that were still usable. */
  revokeSubject(sub: string, now: number): number {
    const families = new Set<string>();
    for (const [id, f] of this.#families.entries(now)) if (f.sub === sub && !f.revoked) families.add(id);
    let live = 0;
    for (const [, r] of this.#refresh.entries(now)) if (!r.used && families.has(r.familyId)) live++;
    for (const id of families) this.revokeFamily(id, now, 'admin');
    return live;
  }

  sweep(now: number): void {
    this.#codes.sweep(now);
    this.#families.sweep(now);
    this.#refresh.sweep(now);
    this.#access.sweep(now);
  }

  sizes(): { codes: number; families: number; refreshTokens: number; accessTokens: number } {
    return {
      codes: this.#codes.size,
      families: this.#families.size,
      refreshTokens: this.#refresh.size,
      accessTokens: this.#access.size,
    };
  }

  clear(): void {
    this.#codes.clear();
    this.#families.clear();
    this.#refresh.clear();
    this.#access.clear();
  }
}
