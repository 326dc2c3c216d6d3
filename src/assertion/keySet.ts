import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { AssertionAlg, LoadedKey } from './keyFile.js';

/** The key assertions are signed with, named by its `kid`. */
export interface SigningKey {
  key: KeyObject;
  alg: AssertionAlg;
  kid: string;
}

/** What /oauth2/jwks serves: the signing key's public half, then the previous keys still published. */
export interface AssertionKeySet {
  signing: SigningKey;
  jwks: { keys: JWK[] };
}

/** The public JWK of a key, with `kid` = its RFC 7638 thumbprint (so every replica names it alike). */
async function publicJwk(k: LoadedKey): Promise<JWK> {
  const pub = k.key.type === 'private' ? createPublicKey(k.key) : k.key;
  const jwk = await exportJWK(pub);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { ...jwk, kid, alg: k.alg, use: 'sig' };
}

/**
 * The signing key and the published set. Previous keys are published but never signed with:
 * an upstream that cached the JWKS before a rotation still verifies assertions signed with the
 * new key after its next fetch, and the old key's assertions until they expire. A previous key
 * equal to the signing key is published once.
 */
export async function buildKeySet(
  signing: LoadedKey,
  previous: readonly LoadedKey[],
): Promise<AssertionKeySet> {
  const current = await publicJwk(signing);
  const keys = [current];
  for (const p of previous) {
    const jwk = await publicJwk(p);
    if (!keys.some((k) => k.kid === jwk.kid)) keys.push(jwk);
  }
  return { signing: { key: signing.key, alg: signing.alg, kid: current.kid! }, jwks: { keys } };
}
