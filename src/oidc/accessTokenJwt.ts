import { decodeJwt, decodeProtectedHeader, errors } from 'jose';
import { describeCause } from '../util/errors.js';
import { acceptedIssuers, type BearerIssuer, type BearerSettings, sameIssuer } from './bearerSettings.js';
import { OidcError } from './errors.js';
import { ProviderKeys, type VerifiedJwt } from './jwks.js';
import type { ProviderFetch } from './providerFetch.js';
import { audiencesOf, invalid, type TokenVerdict } from './tokenVerdict.js';

/** What the verifier needs of the provider: its one JWKS cache and who it is. */
export interface SignedJwtVerifier {
  verifySignedJwt(
    jwt: string,
    checks: { algorithms: string[]; clockToleranceSec: number; requiredClaims: string[] },
  ): Promise<VerifiedJwt>;
}

export interface AccessTokenJwtOptions {
  bearer: BearerSettings;
  /** The provider's issuer as configured (its tokens are checked against the provider's own keys). */
  providerIssuer: string;
  /** Our client id: a token whose `aud` is it and whose `typ` is not at+jwt is an ID token. */
  clientId: string;
  clockToleranceSec: number;
  timeoutMs: number;
  now: () => number;
  /** The provider's transport (providerFetch.ts: the internal CA); default the global fetch. */
  fetch?: ProviderFetch | undefined;
}

/** A JWT's shape: three base64url parts (a JWE has five, an opaque token is something else). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/**
 * JWT access tokens (RFC 9068, and plain JWTs): the signature against the issuer's JWKS (the
 * provider's one shared cache for its own issuer; a key cache per extra issuer, created once at
 * start-up, so their number is bounded by the configuration), the algorithm allow-list, `iss`,
 * `aud`, `exp` (required) and `nbf` with the provider's clock tolerance, `typ` at+jwt or JWT or
 * none. An ID token presented as a bearer is refused (RFC 9068 §4: `typ` other than at+jwt with
 * `aud` = our client id, or a `nonce`/`at_hash` claim).
 */
export class AccessTokenJwtVerifier {
  private readonly issuers: BearerIssuer[];
  private readonly extraKeys = new Map<string, Promise<ProviderKeys>>();

  constructor(
    private readonly provider: SignedJwtVerifier,
    private readonly opts: AccessTokenJwtOptions,
  ) {
    this.issuers = acceptedIssuers(opts.bearer, opts.providerIssuer);
  }

  async verify(token: string): Promise<TokenVerdict> {
    let alg: unknown;
    let typ: unknown;
    let iss: unknown;
    try {
      ({ alg, typ } = decodeProtectedHeader(token));
      iss = decodeJwt(token).iss;
    } catch {
      return invalid('the token is not a well-formed JWT');
    }
    if (typeof alg !== 'string' || !this.opts.bearer.algorithms.includes(alg as never)) {
      // The header's own value is not echoed: nothing of the token goes into an answer.
      return invalid(
        `the token's algorithm is not accepted (accepted: ${this.opts.bearer.algorithms.join(', ')})`,
      );
    }
    const mediaType = typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
    if (mediaType !== undefined && mediaType !== 'at+jwt' && mediaType !== 'jwt') {
      return invalid('the token is not an access token (typ)');
    }
    const entry =
      typeof iss === 'string' ? this.issuers.find((i) => sameIssuer(i.issuer, iss as string)) : undefined;
    if (!entry) return invalid('the token was issued by an issuer that is not accepted');

    let verified: VerifiedJwt;
    const checks = {
      algorithms: [...this.opts.bearer.algorithms],
      clockToleranceSec: this.opts.clockToleranceSec,
      requiredClaims: ['exp'],
    };
    try {
      if (sameIssuer(entry.issuer, this.opts.providerIssuer)) {
        verified = await this.provider.verifySignedJwt(token, checks);
      } else {
        const keys = await this.keysFor(entry);
        verified = await keys.verify(token, { ...checks, issuer: iss as string, now: this.opts.now() });
      }
    } catch (err) {
      return verdictOfFailure(err);
    }
    const claims = verified.payload as Record<string, unknown>;
    const aud = audiencesOf(claims);
    if (mediaType !== 'at+jwt' && aud.includes(this.opts.clientId)) {
      return invalid('an ID token is not an access token');
    }
    if (claims.nonce !== undefined || claims.at_hash !== undefined) {
      return invalid('an ID token is not an access token');
    }
    if (!aud.some((a) => entry.audiences.includes(a))) {
      return invalid('the token is not meant for this API (aud)');
    }
    return { kind: 'active', claims, expiresAt: (claims.exp as number) * 1000 };
  }

  /** An extra issuer's key cache: its jwksUri, else the one its discovery names (fetched once; retried after a failure). */
  private keysFor(i: BearerIssuer): Promise<ProviderKeys> {
    let p = this.extraKeys.get(i.issuer);
    if (!p) {
      p = this.resolveKeys(i);
      p.catch(() => this.extraKeys.delete(i.issuer));
      this.extraKeys.set(i.issuer, p);
    }
    return p;
  }

  private async resolveKeys(i: BearerIssuer): Promise<ProviderKeys> {
    let uri = i.jwksUri;
    if (!uri) {
      const wellKnown = `${i.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
      let meta: { jwks_uri?: unknown };
      try {
        const res = await (this.opts.fetch ?? fetch)(wellKnown, {
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        meta = (await res.json()) as { jwks_uri?: unknown };
      } catch (err) {
        throw new OidcError(
          'unreachable',
          { description: `discovery of ${i.issuer}: ${describeCause(err)}` },
          err,
        );
      }
      if (typeof meta.jwks_uri !== 'string') {
        throw new OidcError('no_signing_keys', { description: `${i.issuer} lists no jwks_uri` });
      }
      uri = meta.jwks_uri;
    }
    return new ProviderKeys(uri, this.opts.timeoutMs, this.opts.now, this.opts.fetch);
  }
}

/** A verification failure, coded: the token's fault → invalid (401); the keys cannot be had now → unavailable (503). */
function verdictOfFailure(err: unknown): TokenVerdict {
  if (err instanceof OidcError && (err.code === 'not_ready' || err.code === 'unreachable')) {
    return { kind: 'unavailable', retryAfterSec: 5, description: err.message };
  }
  if (err instanceof OidcError && err.code === 'no_signing_keys') {
    return { kind: 'unavailable', retryAfterSec: 30, description: err.message };
  }
  const cause = err instanceof OidcError && err.cause !== undefined ? err.cause : err;
  if (cause instanceof errors.JWTExpired) return invalid('the token has expired');
  if (cause instanceof errors.JWTClaimValidationFailed) {
    if (cause.claim === 'nbf') return invalid('the token is not valid yet (nbf)');
    if (cause.claim === 'iss') return invalid('the token was issued by an issuer that is not accepted');
    if (cause.claim === 'exp') return invalid('the token has no expiry (exp)');
    return invalid(`the token's ${cause.claim} claim is not valid`);
  }
  if (cause instanceof errors.JWSSignatureVerificationFailed)
    return invalid('the token signature is not valid');
  if (cause instanceof errors.JWKSNoMatchingKey)
    return invalid('the token was signed by a key the issuer does not publish');
  if (cause instanceof errors.JOSEAlgNotAllowed) return invalid('the token algorithm is not accepted');
  if (cause instanceof errors.JWKSTimeout || cause instanceof errors.JWKSInvalid || isNetworkFailure(cause)) {
    return {
      kind: 'unavailable',
      retryAfterSec: 5,
      description: `the issuer's keys cannot be fetched: ${describeCause(cause)}`,
    };
  }
  return invalid('the token is not a valid JWT');
}

/** fetch's own failure (the JWKS could not be reached), as opposed to a token jose cannot use. */
function isNetworkFailure(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    (err instanceof TypeError && /fetch failed/i.test(err.message))
  );
}
