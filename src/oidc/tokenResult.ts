import { decodeJwt } from 'jose';
import type { TokenSet } from './tokenSet.js';

/** What a successful code exchange or refresh yields, normalised across providers. */
export interface TokenResult {
  tokens: TokenSet;
  /** ID token claims (validated by openid-client), merged with userinfo when enabled. */
  claims: Record<string, unknown> | undefined;
  /** Absolute expiry of the access token, ms since epoch (gateway clock). */
  accessExpiresAt: number;
  accessLifetimeMs: number;
  /** True when the response carried a new refresh token (rotation). */
  rotated: boolean;
  /**
   * The scopes granted: the response's `scope`, else (RFC 6749 §5.1: omitted means "as
   * requested") the scopes asked for at sign-in; undefined after a refresh that did not say
   * (the session keeps what it had). For `requiredScopes` on cookie sessions.
   */
  scopes?: string[];
  /**
   * Lifetimes the token response itself stated, in seconds (`expires_in`, and Keycloak's
   * `refresh_expires_in`); unset when it did not say. For `gatehouse doctor --login`.
   */
  stated?: { expiresIn?: number; refreshExpiresIn?: number };
}

/** A lifetime a token response states: a number, or digits as a string (`"3599"`, as Entra v1 sends). */
export function statedSeconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * Expiry is driven by the token, never by session age: `expires_in` first, then the access
 * token's own `exp` (when it is a JWT), then the ID token's `exp`, then the configured default.
 * Only called at login and refresh — never on the request hot path.
 */
export function accessExpiry(
  now: number,
  expiresIn: number | undefined,
  accessToken: string,
  idTokenExp: number | undefined,
  defaultLifetimeSec: number,
): { at: number; lifetimeMs: number } {
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0) {
    return { at: now + expiresIn * 1000, lifetimeMs: expiresIn * 1000 };
  }
  let exp: number | undefined;
  let iat: number | undefined;
  try {
    const payload = decodeJwt(accessToken);
    if (typeof payload.exp === 'number') {
      exp = payload.exp;
      iat = typeof payload.iat === 'number' ? payload.iat : undefined;
    }
  } catch {
    // opaque access token: fall through
  }
  exp ??= idTokenExp;
  if (exp !== undefined) {
    const at = exp * 1000;
    return { at, lifetimeMs: Math.max(1000, iat !== undefined ? (exp - iat) * 1000 : at - now) };
  }
  return { at: now + defaultLifetimeSec * 1000, lifetimeMs: defaultLifetimeSec * 1000 };
}
