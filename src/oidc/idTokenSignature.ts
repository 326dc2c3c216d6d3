import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';

/**
 * Verifies ID token signatures with jose against the provider's JWKS. openid-client validates
 * the claims (iss, aud, azp, exp/iat, nonce); the signature is checked here so that a key
 * rotation at the IdP is followed at once: an unknown `kid` forces a JWKS reload, rate-limited by
 * a small token bucket (a burst of 3, then one per 20 s) so nothing can make us hammer the IdP.
 */
export class IdTokenSignatureVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private forcedReloads = 3;
  private lastRefill: number;

  constructor(
    jwksUri: string,
    private readonly algorithms: string[],
    private readonly clockToleranceSec: number,
    timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.jwks = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
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

  async verify(idToken: string): Promise<void> {
    await this.verifyJwt(idToken);
  }

  /**
   * Any JWT the provider signed (ID tokens, distributed-claim answers): the signature against
   * the same JWKS cache and algorithms, `exp`/`nbf` with the clock tolerance; returns the payload.
   */
  async verifyJwt(jwt: string): Promise<JWTPayload> {
    const opts = { algorithms: this.algorithms, clockTolerance: this.clockToleranceSec };
    try {
      return (await jwtVerify(jwt, this.jwks, opts)).payload;
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey && this.mayForceReload()) {
        await this.jwks.reload();
        return (await jwtVerify(jwt, this.jwks, opts)).payload;
      }
      throw err;
    }
  }
}
