/**
 * What checking a bearer token yields, whichever way it was checked (a JWT verified locally, an
 * opaque token introspected): the engine turns `invalid` into a 401 `invalid_token` and
 * `unavailable` into a 503, never into a login redirect.
 */
export type TokenVerdict = ActiveToken | InvalidToken | TokenUncheckable;

export interface ActiveToken {
  kind: 'active';
  /** The token's claims (a JWT's payload, or the introspection answer). */
  claims: Record<string, unknown>;
  /** When the token stops being good (ms since the epoch); undefined: the answer said no `exp`. */
  expiresAt: number | undefined;
}

export interface InvalidToken {
  kind: 'invalid';
  /** Why, for `error_description` and the log: never the token itself. */
  description: string;
}

export interface TokenUncheckable {
  kind: 'unavailable';
  retryAfterSec: number;
  /** Why (for the log). */
  description: string;
}

export function invalid(description: string): InvalidToken {
  return { kind: 'invalid', description };
}

/** The audiences a token names (`aud` as a string or an array). */
export function audiencesOf(claims: Record<string, unknown>): string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/** The scopes a token grants: RFC 9068/7662 `scope` (space-separated), or `scp` (array or string; Entra, Okta). */
export function scopesOf(claims: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const v of [claims.scope, claims.scp]) {
    if (typeof v === 'string') out.push(...v.split(' ').filter(Boolean));
    else if (Array.isArray(v)) for (const s of v) if (typeof s === 'string' && s) out.push(s);
  }
  return out;
}
