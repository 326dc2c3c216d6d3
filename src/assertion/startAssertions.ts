import type { SessionStore } from '../session/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { type LoadedKey, readKeyFile } from './keyFile.js';
import { buildKeySet } from './keySet.js';
import type { AssertionSettings } from './settings.js';
import { generateEs256Key, sharedAssertionKey } from './sharedKey.js';
import { AssertionSigner } from './signer.js';

/**
 * The assertion signer at start, or undefined when `headers.assertion` is off. The key: the one
 * in `assertionKeyFile`; else an ES256 key generated once and kept in the store's shared values
 * (Redis: every replica signs with it and publishes it); else — the memory store, one process —
 * a key generated for this process's lifetime. Key files were checked by the configuration
 * loader; a file changed since throws AssertionKeyError.
 */
export async function startAssertions(
  settings: AssertionSettings,
  issuer: string,
  store: Pick<SessionStore, 'kind' | 'shared' | 'lock'>,
  secrets: readonly string[],
  clock: Clock,
  logger: Logger,
): Promise<AssertionSigner | undefined> {
  if (!settings.assertion) return undefined;
  let signing: LoadedKey;
  if (settings.assertionKeyFile !== undefined) {
    signing = readKeyFile(settings.assertionKeyFile, 'headers.assertionKeyFile', 'private');
  } else if (store.shared) {
    signing = {
      key: await sharedAssertionKey({ shared: store.shared, lock: store.lock }, secrets, logger),
      alg: 'ES256',
    };
  } else {
    logger.info(
      `assertion key: generated an ES256 key for this process (the ${store.kind} store keeps no shared values); set headers.assertionKeyFile to keep one across restarts`,
    );
    signing = { key: generateEs256Key(), alg: 'ES256' };
  }
  const previous = settings.assertionPreviousKeyFiles.map((file, i) =>
    readKeyFile(file, `headers.assertionPreviousKeyFiles[${i}]`, 'public'),
  );
  const keys = await buildKeySet(signing, previous);
  logger.info(
    { kid: keys.signing.kid, alg: keys.signing.alg, published: keys.jwks.keys.length },
    'identity assertions on: X-Gatehouse-Assertion, keys at /oauth2/jwks',
  );
  return new AssertionSigner(keys, issuer, settings, clock);
}
