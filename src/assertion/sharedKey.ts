import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { RefreshLock, SharedValues } from '../session/store.js';
import { TokenSealer } from '../session/tokenSealer.js';
import { describeCause } from '../util/errors.js';
import type { Logger } from '../util/log.js';

/** The store's shared-value name of the generated assertion key. */
export const SHARED_KEY_NAME = 'assertion-key';
const AAD = 'assertion-key:v1';

/** What the store keeps: the private JWK, sealed with the session secret (like the registered client). */
interface StoredKey {
  v: 1;
  alg: 'ES256';
  /** TokenSealer output of the private JWK's JSON, bound (AAD) to this use. */
  jwk: string;
  createdAt: string;
}

export function generateEs256Key(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

interface Opened {
  key: KeyObject;
  /** Sealed under a secret of `previousSecrets`, not `session.secret`: to be sealed again. */
  stale: boolean;
}

function opened(
  raw: string | undefined,
  sealer: TokenSealer,
  current: TokenSealer,
  logger: Logger,
): Opened | undefined {
  if (raw === undefined) return undefined;
  try {
    const s = JSON.parse(raw) as StoredKey;
    if (s.v !== 1 || s.alg !== 'ES256' || typeof s.jwk !== 'string') throw new Error('unknown format');
    const key = createPrivateKey({ key: JSON.parse(sealer.open(s.jwk, AAD)), format: 'jwk' });
    let stale = false;
    try {
      current.open(s.jwk, AAD);
    } catch {
      stale = true;
    }
    return { key, stale };
  } catch (err) {
    // A session secret rotated without previousSecrets: a new key replaces it (upstreams pick it
    // up from /oauth2/jwks on their next fetch, an unknown kid makes jose's key set refetch).
    logger.warn(
      { err: describeCause(err) },
      'assertion key: the stored key does not open with session.secret/previousSecrets; generating a new one',
    );
    return undefined;
  }
}

function sealed(key: KeyObject, sealer: TokenSealer): string {
  const stored: StoredKey = {
    v: 1,
    alg: 'ES256',
    jwk: sealer.seal(JSON.stringify(key.export({ format: 'jwk' })), AAD),
    createdAt: new Date().toISOString(),
  };
  return JSON.stringify(stored);
}

/**
 * The generated ES256 key every replica signs with, kept in the store's shared values, sealed
 * with the session secret. Replicas that start together end up with one key: the first to find
 * none takes the store's lease, re-reads (another may have just stored one), generates and
 * stores; the others wait for the lease and read what it stored. Without a lock (a store with
 * shared values but no lease), the key is stored and read back, so the last writer's key is the
 * one all use from their next start — such a store has no second replica at once.
 */
export async function sharedAssertionKey(
  store: { shared: SharedValues; lock?: RefreshLock | undefined },
  secrets: readonly string[],
  logger: Logger,
): Promise<KeyObject> {
  const sealer = new TokenSealer([...secrets]);
  const current = new TokenSealer(secrets.slice(0, 1));
  const read = async () => opened(await store.shared.get(SHARED_KEY_NAME), sealer, current, logger);
  const leaseMs = 10_000;
  for (;;) {
    const found = await read();
    if (found) {
      // Sealed again under session.secret, so the key still opens once the old secret leaves
      // previousSecrets. Every replica that starts may do it; they all write the same key.
      if (found.stale) await store.shared.put(SHARED_KEY_NAME, sealed(found.key, sealer));
      return found.key;
    }
    if (!store.lock) {
      await store.shared.put(SHARED_KEY_NAME, sealed(generateEs256Key(), sealer));
      const back = await read();
      if (back) return back.key;
      continue;
    }
    const token = await store.lock.acquire(SHARED_KEY_NAME, leaseMs);
    if (token === undefined) {
      await store.lock.waitForRelease(SHARED_KEY_NAME, leaseMs);
      continue;
    }
    try {
      const again = await read();
      if (again) return again.key;
      const key = generateEs256Key();
      await store.shared.put(SHARED_KEY_NAME, sealed(key, sealer));
      logger.info('assertion key: generated an ES256 key, kept in the store for every replica');
      return key;
    } finally {
      await store.lock.release(SHARED_KEY_NAME, token).catch(() => undefined);
    }
  }
}
