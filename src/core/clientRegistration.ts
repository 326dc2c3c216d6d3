import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import type { GatehouseConfig } from '../config/schema.js';
import { RegistrationError, registerClient } from '../oidc/registration.js';
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

function readStored(file: string, cfg: GatehouseConfig, sealer: TokenSealer, logger: Logger) {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError([`provider.registration.storeFile: cannot read ${file}: ${describeCause(err)}`]);
  }
  let s: StoredRegistration;
  try {
    s = JSON.parse(raw) as StoredRegistration;
    if (s.v !== 1 || typeof s.clientId !== 'string' || !Array.isArray(s.redirectUris))
      throw new Error('unknown format');
  } catch (err) {
    throw new ConfigError([
      `provider.registration.storeFile: ${file} is not a Gatehouse client registration (${describeCause(err)}) — delete it to register again`,
    ]);
  }
  const wanted = registrationRedirectUris(cfg);
  if (s.issuer !== cfg.provider.issuer) {
    logger.warn(
      { file, stored: s.issuer },
      'client registration: stored for another issuer; registering again',
    );
    return undefined;
  }
  if (s.redirectUris.length !== wanted.length || s.redirectUris.some((u, i) => u !== wanted[i])) {
    logger.warn(
      { file, stored: s.redirectUris, wanted },
      'client registration: publicUrl changed since it was registered; registering again',
    );
    return undefined;
  }
  try {
    return { clientId: s.clientId, clientSecret: sealer.open(s.clientSecret, aad(s.issuer, s.clientId)) };
  } catch (err) {
    logger.warn(
      { file, err: describeCause(err) },
      'client registration: the stored secret does not open with session.secret/previousSecrets; registering again',
    );
    return undefined;
  }
}

function writeStored(file: string, s: StoredRegistration): void {
  // Written whole and renamed into place (no half-written file after a crash), owner-only.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
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
  opts: { storeKind: string; sleep?: (ms: number) => Promise<void> } = { storeKind: 'memory' },
): Promise<{ clientId: string; clientSecret: string } | undefined> {
  const reg = cfg.provider.registration;
  if (reg === undefined) return undefined;
  if (opts.storeKind !== 'memory') {
    throw new ConfigError([
      `provider.registration: not supported yet with session.store ${opts.storeKind} (every replica would register a client of its own) — register Gatehouse once (e.g. with the memory store and storeFile) and set provider.clientId/clientSecret`,
    ]);
  }
  const sealer = new TokenSealer([cfg.session.secret, ...cfg.session.previousSecrets]);
  const stored = reg.storeFile ? readStored(reg.storeFile, cfg, sealer, logger) : undefined;
  if (stored) {
    logger.info({ clientId: stored.clientId }, 'client registration: reusing the registered client');
    return stored;
  }
  const pub = cfg.publicUrl;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      const c = await registerClient({
        issuer: cfg.provider.issuer,
        redirectUris: registrationRedirectUris(cfg),
        postLogoutRedirectUris: [new URL('/oauth2/signed-out', pub).href],
        backchannelLogoutUri: new URL('/oauth2/backchannel-logout', pub).href,
        frontchannelLogoutUri: new URL('/oauth2/frontchannel-logout', pub).href,
        clientName: `Gatehouse (${new URL(pub).host})`,
        initialAccessToken: reg.initialAccessToken,
        timeoutSeconds: cfg.provider.timeoutSeconds,
      });
      logger.info({ clientId: c.clientId }, 'client registration: registered at the provider');
      if (reg.storeFile) {
        writeStored(reg.storeFile, {
          v: 1,
          issuer: cfg.provider.issuer,
          redirectUris: registrationRedirectUris(cfg),
          clientId: c.clientId,
          clientSecret: sealer.seal(c.clientSecret, aad(cfg.provider.issuer, c.clientId)),
          registeredAt: new Date().toISOString(),
        });
      } else {
        logger.warn(
          'client registration: no provider.registration.storeFile — every start registers a new client; set storeFile to reuse it',
        );
      }
      return { clientId: c.clientId, clientSecret: c.clientSecret };
    } catch (err) {
      if (err instanceof RegistrationError && err.kind === 'refused') {
        throw new ConfigError([`provider.registration: ${err.message}`]);
      }
      const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
      logger.warn(
        { attempt, retryInMs: delay, err: describeCause(err) },
        'client registration failed; retrying',
      );
      await sleep(delay);
    }
  }
}
