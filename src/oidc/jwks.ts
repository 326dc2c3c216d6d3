import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from 'jose';
import type { ProviderFetch } from './providerFetch.js';

/**
 * What a JWT the provider signed must satisfy besides its signature. `exp`/`nbf` are always
 * checked (with the tolerance); the rest only when given.
 */
export interface JwtChecks {
  /** JWS algorithms accepted; undefined: any the key allows. */
  algorithms?: string[] | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  clockToleranceSec: number;
  /** The verifier's "now" (ms since epoch); undefined: the system clock. */
  now?: number | undefined;
  /** Refuse a token whose `iat` is older than this. */
  maxTokenAgeSec?: number | undefined;
  requiredClaims?: string[] | undefined;
}

export interface VerifiedJwt {
  payload: JWTPayload;
  /** The protected header's `typ`, when it has one. */
  typ: string | undefined;
}

/**
 * The provider's signing keys (its JWKS), fetched with jose and cached: one cache per provider,
 * serving ID tokens, distributed-claim answers, back-channel logout tokens (and, later, bearer
 * tokens), so a key rotation seen by one is seen by all. An unknown `kid` forces a reload even
 * within jose's cooldown, rate-limited by a small token bucket (a burst of 3, then one per 20 s)
 * so nothing can make us hammer the IdP; at most one fetch per verification.
 */
export class ProviderKeys {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private forcedReloads = 3;
  private lastRefill: number;

  constructor(
    readonly jwksUri: string,
    timeoutMs: number,
    private readonly now: () => number = Date.now,
    fetchKeys?: ProviderFetch,
  ) {
    this.jwks = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
      // The provider's transport (its internal CA, providerFetch.ts), not the global fetch.
      ...(fetchKeys ? { [customFetch]: fetchKeys } : {}),
    });
    this.lastRefill = now();
  }

  private mayForceReload(): boolean {
    const t = this.now();
    const refill = Math.floor((t - this.lastRefill) / 20_000);
    if (refill > 0) {
      this.forcedReloads = Math.min(3, this.forcedReloads + refill);
      this.lastRefill = t;
    }
    if (this.forcedReloads <= 0) return false;
    this.forcedReloads--;
    return true;
  }

  /** Verifies the signature against the cached keys and the `checks`; throws jose's error when it fails. */
  async verify(jwt: string, checks: JwtChecks): Promise<VerifiedJwt> {
    const opts = {
      algorithms: checks.algorithms,
      issuer: checks.issuer,
      audience: checks.audience,
      clockTolerance: checks.clockToleranceSec,
      currentDate: checks.now === undefined ? undefined : new Date(checks.now),
      maxTokenAge: checks.maxTokenAgeSec,
      requiredClaims: checks.requiredClaims,
    };
    let result: Awaited<ReturnType<typeof jwtVerify>>;
    // Outside jose's cooldown jose itself fetches on this call (no keys yet, stale keys, or an
    // unknown kid): a second fetch right after would only ask the IdP the same question twice.
    const joseFetches = !this.jwks.coolingDown;
    try {
      result = await jwtVerify(jwt, this.jwks, opts);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || joseFetches || !this.mayForceReload()) throw err;
      await this.jwks.reload();
      result = await jwtVerify(jwt, this.jwks, opts);
    }
    return { payload: result.payload, typ: result.protectedHeader.typ };
  }
}
