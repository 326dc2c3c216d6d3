import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { ProviderFetch } from '../oidc/providerFetch.js';
import { RegistrationError, registerClient } from '../oidc/registration.js';
import type { SessionStore, SharedValues } from '../session/store.js';
import { TokenSealer } from '../session/tokenSealer.js';
import { describeCause } from '../util/errors.js';
import type { Logger } from '../util/log.js';

/** What the store file keeps: the registration, its secret sealed with the session secret. */
interface StoredRegistration {
  v: 1;
  issuer: string;
  redirectUris: string[];
  clientId: string;
  /** TokenSealer output, bound (AAD) to the issuer and client id. */
  clientSecret: string;
  registeredAt: string;
}

const aad = (issuer: string, clientId: string) => `client-registration:${issuer}:${clientId}`;

/** The redirect URIs Gatehouse registers: derived from publicUrl, so a new publicUrl re-registers. */
export function registrationRedirectUris(cfg: Pick<GatehouseConfig, 'publicUrl'>): string[] {
  return [new URL('/oauth2/callback', cfg.publicUrl).href];
}

/** Where the registration is kept: the shared store (Redis), a file (memory store), or nowhere. */
interface Vault {
  describe: string;
  read(): Promise<string | undefined>;
  write(content: string): Promise<void>;
}

function fileVault(file: string): Vault {
  return {
    describe: file,
    async read() {
      try {
        return readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new ConfigError([
          `provider.registration.storeFile: cannot read ${file}: ${describeCause(err)}`,
        ]);
      }
    },
    async write(content) {
      // Written whole and renamed into place (no half-written file after a crash), owner-only.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, content, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, file);
    },
  };
}

const SHARED_NAME = 'client-registration';

function storeVault(shared: SharedValues, kind: string): Vault {
  return {
    describe: `the ${kind} store`,
    read: () => shared.get(SHARED_NAME),
    write: (content) => shared.put(SHARED_NAME, content),
  };
}

/** The stored client when it still fits this configuration; undefined means "register". */
function usable(
  raw: string | undefined,
  where: string,
  cfg: GatehouseConfig,
  sealer: TokenSealer,
  logger: Logger,
): { clientId: string; clientSecret: string } | undefined {
  if (raw === undefined) return undefined;
  let s: StoredRegistration;
  try {
    s = JSON.parse(raw) as StoredRegistration;
    if (s.v !== 1 || typeof s.clientId !== 'string' || !Array.isArray(s.redirectUris))
      throw new Error('unknown format');
  } catch (err) {
    throw new ConfigError([
      `provider.registration: ${where} holds no Gatehouse client registration (${describeCause(err)}) — delete it to register again`,
    ]);
  }
  const wanted = registrationRedirectUris(cfg);
  if (s.issuer !== cfg.provider.issuer) {
    logger.warn(
      { where, stored: s.issuer },
      'client registration: stored for another issuer; registering again',
    );
    return undefined;
  }
  if (s.redirectUris.length !== wanted.length || s.redirectUris.some((u, i) => u !== wanted[i])) {
    logger.warn(
      { where, stored: s.redirectUris, wanted },
      'client registration: publicUrl changed since it was registered; registering again',
    );
    return undefined;
  }
  try {
    return { clientId: s.clientId, clientSecret: sealer.open(s.clientSecret, aad(s.issuer, s.clientId)) };
  } catch (err) {
    logger.warn(
      { where, err: describeCause(err) },
      'client registration: the stored secret does not open with session.secret/previousSecrets; registering again',
    );
    return undefined;
  }
}

/**
 * Dynamic Client Registration at start (`provider.registration`): the registered client from
 * `storeFile` when it still fits (same issuer, same redirect URIs, secret opens), else a new
 * registration, stored there. A refusal (4xx) is a configuration problem: ConfigError (exit 78)
 * with the provider's error text. A transient failure (network, 5xx) is retried with backoff,
 * like discovery, until it succeeds.
 */
export async function resolveRegisteredClient(
  cfg: GatehouseConfig,
  logger: Logger,
  store: Pick<SessionStore, 'kind' | 'lock' | 'shared'>,
  opts: { sleep?: (ms: number) => Promise<void>; fetch?: ProviderFetch } = {},
): Promise<{ clientId: string; clientSecret: string } | undefined> {
  const reg = cfg.provider.registration;
  if (reg === undefined) return undefined;
  const sealer = new TokenSealer([cfg.session.secret, ...cfg.session.previousSecrets]);
  let vault: Vault | undefined;
  if (store.shared) {
    vault = storeVault(store.shared, store.kind);
    if (reg.storeFile) {
      logger.warn(
        { storeFile: reg.storeFile },
        `client registration: kept in the ${store.kind} store, shared by every replica; provider.registration.storeFile is not used`,
      );
    }
  } else if (reg.storeFile) vault = fileVault(reg.storeFile);
  else {
    logger.warn(
      'client registration: no provider.registration.storeFile — every start registers a new client; set storeFile to reuse it',
    );
  }
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const leaseMs = (cfg.provider.timeoutSeconds * 2 + 5) * 1000;
  for (let attempt = 1; ; attempt++) {
    const stored = usable(await vault?.read(), vault?.describe ?? '', cfg, sealer, logger);
    if (stored) {
      logger.info(
        { clientId: stored.clientId, where: vault?.describe },
        'client registration: reusing the registered client',
      );
      return stored;
    }
    // Several replicas: exactly one registers, under the store's lease; the others wait for it
    // and read what it stored.
    const token = store.lock ? await store.lock.acquire(SHARED_NAME, leaseMs) : 'local';
    if (token === undefined) {
      await store.lock!.waitForRelease(SHARED_NAME, leaseMs);
      continue;
    }
    try {
      // The lease holder re-reads: another replica may have registered just before.
      const again = store.lock
        ? usable(await vault?.read(), vault?.describe ?? '', cfg, sealer, logger)
        : undefined;
      if (again) {
        logger.info({ clientId: again.clientId }, 'client registration: reusing the registered client');
        return again;
      }
      const c = await registerOnce(cfg, opts.fetch);
      logger.info({ clientId: c.clientId }, 'client registration: registered at the provider');
      await vault?.write(
        `${JSON.stringify(
          {
            v: 1,
            issuer: cfg.provider.issuer,
            redirectUris: registrationRedirectUris(cfg),
            clientId: c.clientId,
            clientSecret: sealer.seal(c.clientSecret, aad(cfg.provider.issuer, c.clientId)),
            registeredAt: new Date().toISOString(),
          } satisfies StoredRegistration,
          null,
          2,
        )}\n`,
      );
      return c;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (err instanceof RegistrationError && err.kind === 'refused') {
        throw new ConfigError([`provider.registration: ${err.message}`]);
      }
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      logger.warn(
        { attempt, retryInMs: delay, err: describeCause(err) },
        'client registration failed; retrying',
      );
      await sleep(delay);
    } finally {
      if (store.lock && token !== 'local')
        await store.lock.release(SHARED_NAME, token).catch(() => undefined);
    }
  }
}

function registerOnce(cfg: GatehouseConfig, fetch: ProviderFetch | undefined) {
  const pub = cfg.publicUrl;
  return registerClient({
    issuer: cfg.provider.issuer,
    redirectUris: registrationRedirectUris(cfg),
    postLogoutRedirectUris: [new URL('/oauth2/signed-out', pub).href],
    backchannelLogoutUri: new URL('/oauth2/backchannel-logout', pub).href,
    frontchannelLogoutUri: new URL('/oauth2/frontchannel-logout', pub).href,
    clientName: `Gatehouse (${new URL(pub).host})`,
    initialAccessToken: cfg.provider.registration?.initialAccessToken,
    timeoutSeconds: cfg.provider.timeoutSeconds,
    fetch,
  });
}
