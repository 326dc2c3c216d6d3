// Signing keys. Generated with node:crypto's synchronous API rather than jose's async
// generateKeyPair because DevIdp.rotateKeys() is synchronous: a test that rotates and then
// fetches the JWKS must see the new key at once. jose still does all signing.
import { createHash, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type JWK, type JWTPayload, SignJWT } from 'jose';

export type SigningAlg = 'RS256' | 'ES256';

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateKey: KeyObject;
  /** Public JWK as served in the JWKS. */
  readonly jwk: JWK;
}

interface KeyGeneration {
  RS256: SigningKey;
  ES256: SigningKey;
}

/** RFC 7638 thumbprint: a kid derived from the key, so it is stable and unique. */
function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function generate(alg: SigningAlg, kid?: string): SigningKey {
  const { publicKey, privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const raw = publicKey.export({ format: 'jwk' });
  const id = kid ?? thumbprint(raw);
  const jwk: JWK = { ...raw, kid: id, alg, use: 'sig' };
  return { kid: id, alg, privateKey, jwk };
}

function generation(): KeyGeneration {
  return { RS256: generate('RS256'), ES256: generate('ES256') };
}

export interface SignOptions {
  typ: string;
  alg?: SigningAlg;
  /** Sign with a key that is not in the JWKS but claims the current kid (bad-signature). */
  rogue?: boolean;
}

/** Seconds-since-epoch claims a skewed clock would have stamped differently. */
const TIME_CLAIMS = ['iat', 'nbf', 'exp', 'auth_time'] as const;

/**
 * The keys of one issuer, shared by every view of it (KeyRing.withClockSkew): a rotation seen
 * through one view is seen through all.
 */
interface KeyState {
  /** Signs every token. */
  current: KeyGeneration;
  previous: KeyGeneration | undefined;
  /** False while a rotation without overlap has not reached the JWKS yet (faults: key-rotation). */
  currentPublished: boolean;
  previousPublished: boolean;
  /** JWKS answers still to go without the current key; undefined: until publish(). */
  unpublishedFetchesLeft: number | undefined;
  rogue: KeyObject | undefined;
}

export class KeyRing {
  readonly #state: KeyState;
  readonly #skewSeconds: number;

  constructor(state?: KeyState, skewSeconds = 0) {
    this.#state = state ?? {
      current: generation(),
      previous: undefined,
      currentPublished: true,
      previousPublished: true,
      unpublishedFetchesLeft: undefined,
      rogue: undefined,
    };
    this.#skewSeconds = skewSeconds;
  }

  /**
   * The same keys, signing as if this IdP's clock were off by `skewSeconds` (faults: clock-skew):
   * only the time claims of what it signs move, never the stores' expiry bookkeeping.
   */
  withClockSkew(skewSeconds: number): KeyRing {
    return new KeyRing(this.#state, skewSeconds);
  }

  /** The published keys, current first; the previous generation stays so tokens signed before a rotation verify. */
  jwks(): { keys: JWK[] } {
    const s = this.#state;
    const gens = [
      ...(s.currentPublished ? [s.current] : []),
      ...(s.previous && s.previousPublished ? [s.previous] : []),
    ];
    return { keys: gens.flatMap((g) => [g.RS256.jwk, g.ES256.jwk]) };
  }

  /**
   * The JWKS as GET /jwks serves it: counts the answer toward publishing an unpublished key
   * (`publishAfter`), which the answer after the last counted one carries.
   */
  servedJwks(): { keys: JWK[] } {
    const s = this.#state;
    if (!s.currentPublished && s.unpublishedFetchesLeft !== undefined) {
      if (s.unpublishedFetchesLeft === 0) this.publish();
      else s.unpublishedFetchesLeft--;
    }
    return this.jwks();
  }

  /** Every key this IdP signed with and still holds, published or not: for its own checks (id_token_hint, token exchange). */
  ownJwks(): { keys: JWK[] } {
    const s = this.#state;
    const gens = s.previous ? [s.current, s.previous] : [s.current];
    return { keys: gens.flatMap((g) => [g.RS256.jwk, g.ES256.jwk]) };
  }

  kids(): string[] {
    return this.jwks().keys.map((k) => k.kid ?? '');
  }

  current(alg: SigningAlg = 'RS256'): SigningKey {
    return this.#state.current[alg];
  }

  /** Rotation with overlap: a new current key, published at once next to the previous one. */
  rotate(): void {
    this.publish();
    const s = this.#state;
    s.previous = s.current;
    s.previousPublished = true;
    s.current = generation();
  }

  /**
   * Rotation without overlap: tokens are signed with a new key the JWKS does not publish yet,
   * for `publishAfter` more JWKS answers (undefined: until publish()); then the JWKS switches
   * to it and drops the old key.
   */
  rotateWithoutOverlap(publishAfter: number | undefined): void {
    const s = this.#state;
    if (s.currentPublished) {
      s.previous = s.current;
      s.previousPublished = true;
    }
    s.current = generation();
    s.currentPublished = false;
    s.unpublishedFetchesLeft = publishAfter;
  }

  /** Publishes a key a rotation without overlap held back; the old key leaves the JWKS (no-op otherwise). */
  publish(): void {
    const s = this.#state;
    if (s.currentPublished) return;
    s.currentPublished = true;
    s.previousPublished = false;
    s.unpublishedFetchesLeft = undefined;
  }

  async sign(payload: JWTPayload, opts: SignOptions): Promise<string> {
    const key = this.current(opts.rogue ? 'RS256' : (opts.alg ?? 'RS256'));
    let privateKey = key.privateKey;
    if (opts.rogue) {
      // Made lazily: only bad-signature needs it, and RSA generation costs tens of ms.
      this.#state.rogue ??= generate('RS256').privateKey;
      privateKey = this.#state.rogue;
    }
    return new SignJWT(this.#skewed(payload))
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: opts.typ })
      .sign(privateKey);
  }

  #skewed(payload: JWTPayload): JWTPayload {
    if (this.#skewSeconds === 0) return payload;
    const out: JWTPayload = { ...payload };
    for (const claim of TIME_CLAIMS) {
      const v = out[claim];
      if (typeof v === 'number') out[claim] = v + this.#skewSeconds;
    }
    return out;
  }
}
