import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AssertionSettings } from './settings.js';

/** The JWS algorithms an assertion key may have; which one follows from the key itself. */
export type AssertionAlg = 'ES256' | 'RS256' | 'EdDSA';

/** A key read from a file: its KeyObject and the algorithm it signs (or verifies) with. */
export interface LoadedKey {
  key: KeyObject;
  alg: AssertionAlg;
}

/** A key file that cannot be used; `message` names the key, the file and the fix. */
export class AssertionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionKeyError';
  }
}

const GENERATE_HINT =
  'generate one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out assertion.pem`';

/**
 * ES256 needs P-256, RS256 an RSA key of 2048 bits or more, EdDSA Ed25519: anything else (P-384,
 * a 1024-bit RSA key, X25519) is named, not signed with under a wrong `alg`.
 */
function algOf(key: KeyObject): AssertionAlg | string {
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails;
  if (type === 'ec') return d?.namedCurve === 'prime256v1' ? 'ES256' : `an EC key on ${d?.namedCurve}`;
  if (type === 'rsa') return (d?.modulusLength ?? 0) >= 2048 ? 'RS256' : `a ${d?.modulusLength}-bit RSA key`;
  if (type === 'ed25519') return 'EdDSA';
  return `a ${type} key`;
}

/**
 * Reads a PEM (PKCS#8 private key; for a published key also an SPKI public key) or a JWK.
 * Node's own parser, synchronously, so the configuration loader can check the files (exit 78)
 * before anything starts; jose signs and exports with the KeyObject it returns.
 */
function parse(text: string, want: 'private' | 'public'): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as Record<string, unknown>;
    if (want === 'private' && jwk.d === undefined)
      throw new Error('this JWK is a public key (no "d"); a private key is needed to sign');
    return want === 'private' ? createPrivateKey({ key: jwk, format: 'jwk' }) : publicFromJwk(jwk);
  }
  if (want === 'private') {
    if (/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(trimmed))
      throw new Error('this is a public key or certificate; a private key is needed to sign');
    return createPrivateKey(trimmed);
  }
  return createPublicKey(trimmed);
}

function publicFromJwk(jwk: Record<string, unknown>): KeyObject {
  if (jwk.d === undefined) return createPublicKey({ key: jwk, format: 'jwk' });
  return createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' }));
}

/**
 * The key in `file`, for signing (`private`) or publishing only (`public`: a private key is
 * accepted too, its public half is used). Throws AssertionKeyError naming `configKey`.
 */
export function readKeyFile(file: string, configKey: string, want: 'private' | 'public'): LoadedKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AssertionKeyError(
      `${configKey}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}) — check the path`,
    );
  }
  let key: KeyObject;
  try {
    key = parse(text, want);
  } catch (err) {
    throw new AssertionKeyError(
      `${configKey}: ${file} holds no usable ${want === 'private' ? 'private ' : ''}key (${(err as Error).message}) — ` +
        `give a PEM PKCS#8 private key${want === 'public' ? ', a PEM public key' : ''} or a JWK; ${GENERATE_HINT}`,
    );
  }
  const alg = algOf(key);
  if (alg !== 'ES256' && alg !== 'RS256' && alg !== 'EdDSA') {
    throw new AssertionKeyError(
      `${configKey}: ${file} is ${alg}; use P-256 (ES256), RSA of 2048 bits or more (RS256) or Ed25519 (EdDSA) — ${GENERATE_HINT}`,
    );
  }
  return { key, alg };
}

/** What is wrong with the configured key files, one line each (the configuration loader's check). */
export function assertionKeyProblems(
  s: Pick<AssertionSettings, 'assertionKeyFile' | 'assertionPreviousKeyFiles'>,
): string[] {
  const problems: string[] = [];
  const attempt = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof AssertionKeyError)) throw err;
      problems.push(err.message);
    }
  };
  if (s.assertionKeyFile !== undefined)
    attempt(() => readKeyFile(s.assertionKeyFile!, 'headers.assertionKeyFile', 'private'));
  s.assertionPreviousKeyFiles.forEach((file, i) => {
    attempt(() => readKeyFile(file, `headers.assertionPreviousKeyFiles[${i}]`, 'public'));
  });
  return problems;
}
