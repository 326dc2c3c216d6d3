/**
 * The signed identity assertion (`X-Gatehouse-Assertion`, docs/assertion.md): what the
 * configuration says about it, in the terms this module needs (config/schema.ts holds the keys).
 */

/** The claims an assertion may carry besides iss, aud, iat, exp and jti. */
export const ASSERTION_CLAIMS = ['sub', 'email', 'groups', 'name', 'preferred_username', 'roles'] as const;
export type AssertionClaim = (typeof ASSERTION_CLAIMS)[number];

/** The request header the assertion travels in (in the managed `x-gatehouse-` family). */
export const ASSERTION_HEADER = 'x-gatehouse-assertion';

/** `headers.assertion*` as configured. */
export interface AssertionSettings {
  assertion: boolean;
  assertionKeyFile?: string | undefined;
  assertionPreviousKeyFiles: readonly string[];
  assertionClaims: readonly AssertionClaim[];
  assertionLifetimeSeconds: number;
}
