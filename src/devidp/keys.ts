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

export class KeyRing {
  #current: KeyGeneration = generation();
  #previous: KeyGeneration | undefined;
  #rogue: KeyObject | undefined;

  /** Current keys first; the previous generation stays so tokens signed before a rotation verify. */
  jwks(): { keys: JWK[] } {
    const gens = this.#previous ? [this.#current, this.#previous] : [this.#current];
    return { keys: gens.flatMap((g) => [g.RS256.jwk, g.ES256.jwk]) };
  }

  kids(): string[] {
    return this.jwks().keys.map((k) => k.kid ?? '');
  }

  current(alg: SigningAlg = 'RS256'): SigningKey {
    return this.#current[alg];
  }

  rotate(): void {
    this.#previous = this.#current;
    this.#current = generation();
  }

  async sign(payload: JWTPayload, opts: SignOptions): Promise<string> {
    const key = this.current(opts.rogue ? 'RS256' : (opts.alg ?? 'RS256'));
    let privateKey = key.privateKey;
    if (opts.rogue) {
      // Made lazily: only bad-signature needs it, and RSA generation costs tens of ms.
      this.#rogue ??= generate('RS256').privateKey;
      privateKey = this.#rogue;
    }
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: opts.typ })
      .sign(privateKey);
  }
}
