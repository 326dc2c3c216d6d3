// Turns DevIdpOptions into validated settings. Everything a user can mistype fails here, at
// start, with a message that names the option, instead of misbehaving at the first login.
import {
  ClientRegistry,
  GRANT_TYPES,
  type GrantType,
  loadClientsFile,
  toRegisteredClient,
} from './clients.js';
import { type FaultRule, validateFaultRule } from './faults.js';
import { isLoopbackUrl } from './http.js';
import { ProfileSet } from './profiles.js';
import type { DevIdpClock, DevIdpOptions, DevUser } from './types.js';
import { loadUsers, UserDirectory } from './users.js';

export interface ResolvedOptions {
  host: string;
  port: number;
  /** Undefined means "profile default" (short-expiry changes it at runtime). */
  accessTokenTtl: number | undefined;
  idTokenTtl: number | undefined;
  refreshTokenTtl: number;
  autoLogin: DevUser | undefined;
  clientId: string;
  clientSecret: string;
  redirectUris: readonly string[] | undefined;
  postLogoutRedirectUris: readonly string[] | undefined;
  backchannelLogoutUri: string | undefined;
  frontchannelLogoutUri: string | undefined;
  claimSourceEndpoint: string | undefined;
  tokenDelayMs: number;
  /** RFC 8628: seconds a device code lives, and the polling interval it starts with. */
  deviceCodeTtl: number;
  deviceInterval: number;
  /** `aud` of access tokens when neither the request nor the client names one. */
  audience: string;
  /** RFC 7591 initial access token: POST /register needs `Authorization: Bearer` it; undefined: open. */
  registrationToken: string | undefined;
  quiet: boolean;
  clock: DevIdpClock;
}

export interface Resolved {
  options: ResolvedOptions;
  profiles: ProfileSet;
  users: UserDirectory;
  clients: ClientRegistry;
  faults: FaultRule[];
}

function positiveInt(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1)
    throw new Error(`${name} must be a positive integer (seconds), got ${v}`);
  return v;
}

function absoluteUrl(name: string, v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`${name} must be an absolute URL, got "${v}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`${name} must be http(s), got "${v}"`);
  if (url.hash !== '' || v.includes('#')) throw new Error(`${name} must not contain a fragment, got "${v}"`);
  return v;
}

const systemClock: DevIdpClock = { now: () => Date.now() };

function clockOption(v: DevIdpClock | undefined): DevIdpClock {
  if (v === undefined) return systemClock;
  if (typeof v?.now !== 'function') throw new Error('clock must be an object with a now() method');
  return v;
}

function nonEmpty(name: string, v: string | undefined, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || v === '') throw new Error(`${name} must be a non-empty string`);
  return v;
}

export function resolveOptions(opts: DevIdpOptions): Resolved {
  const port = opts.port ?? 9000;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`port must be 0-65535, got ${port}`);
  const tokenDelayMs = opts.tokenDelayMs ?? 2000;
  if (!Number.isInteger(tokenDelayMs) || tokenDelayMs < 0) {
    throw new Error(`tokenDelayMs must be a non-negative integer, got ${tokenDelayMs}`);
  }
  const users = new UserDirectory(loadUsers(opts.users));
  let autoLogin: DevUser | undefined;
  if (opts.autoLogin !== undefined) {
    autoLogin = users.find(opts.autoLogin);
    if (autoLogin === undefined) {
      const known = users.list().map((u) => u.username);
      throw new Error(`unknown auto-login user "${opts.autoLogin}" (known users: ${known.join(', ')})`);
    }
  }
  const options: ResolvedOptions = {
    host: nonEmpty('host', opts.host, '127.0.0.1'),
    port,
    accessTokenTtl: positiveInt('accessTokenTtl', opts.accessTokenTtl),
    idTokenTtl: positiveInt('idTokenTtl', opts.idTokenTtl),
    refreshTokenTtl: positiveInt('refreshTokenTtl', opts.refreshTokenTtl) ?? 86400,
    autoLogin,
    clientId: nonEmpty('clientId', opts.clientId, 'gatehouse'),
    clientSecret: nonEmpty('clientSecret', opts.clientSecret, 'gatehouse-dev-secret'),
    redirectUris: opts.redirectUris?.map((u) => absoluteUrl('redirectUris', u)),
    postLogoutRedirectUris: opts.postLogoutRedirectUris?.map((u) => absoluteUrl('postLogoutRedirectUris', u)),
    backchannelLogoutUri:
      opts.backchannelLogoutUri === undefined
        ? undefined
        : absoluteUrl('backchannelLogoutUri', opts.backchannelLogoutUri),
    frontchannelLogoutUri:
      opts.frontchannelLogoutUri === undefined
        ? undefined
        : absoluteUrl('frontchannelLogoutUri', opts.frontchannelLogoutUri),
    claimSourceEndpoint:
      opts.claimSourceEndpoint === undefined
        ? undefined
        : absoluteUrl('claimSourceEndpoint', opts.claimSourceEndpoint),
    tokenDelayMs,
    deviceCodeTtl: positiveInt('deviceCodeTtl', opts.deviceCodeTtl) ?? 600,
    deviceInterval: positiveInt('deviceInterval', opts.deviceInterval) ?? 5,
    audience: nonEmpty('audience', opts.audience, DEFAULT_AUDIENCE),
    registrationToken:
      opts.registrationToken === undefined
        ? undefined
        : nonEmpty('registrationToken', opts.registrationToken, ''),
    quiet: opts.quiet ?? false,
    clock: clockOption(opts.clock),
  };
  return {
    options,
    profiles: new ProfileSet(opts.profiles ?? []),
    users,
    clients: resolveClients(opts, options),
    faults: (opts.faults ?? []).map((f, i) => validateFaultRule(f, `faults[${i}].`)),
  };
}

export const DEFAULT_AUDIENCE = 'gatehouse-api';

export const DEFAULT_MAX_REGISTERED_CLIENTS = 1000;

/**
 * The default client may use every grant and any scope; added clients say what they may do.
 * Both use the redirect and logout URIs of the options (as every client did before clients
 * carried their own); clients registered through POST /register bring theirs.
 */
function resolveClients(opts: DevIdpOptions, options: ResolvedOptions): ClientRegistry {
  const all: GrantType[] = [...GRANT_TYPES];
  const uris = {
    redirectUris: options.redirectUris,
    postLogoutRedirectUris: options.postLogoutRedirectUris,
    backchannelLogoutUri: options.backchannelLogoutUri,
    frontchannelLogoutUri: options.frontchannelLogoutUri,
  };
  const added = [
    ...(opts.clients ?? []).map((c) => toRegisteredClient(c, 'clients option')),
    ...(opts.clientsFile === undefined
      ? []
      : loadClientsFile(opts.clientsFile).map((c) => toRegisteredClient(c, opts.clientsFile ?? ''))),
  ].map((c) => ({ ...uris, ...c }));
  const max = opts.maxRegisteredClients ?? DEFAULT_MAX_REGISTERED_CLIENTS;
  if (!Number.isInteger(max) || max < 0)
    throw new Error(`maxRegisteredClients must be a non-negative integer, got ${max}`);
  return new ClientRegistry(
    {
      id: options.clientId,
      secret: options.clientSecret,
      scopes: undefined,
      audience: undefined,
      grantTypes: all,
      ...uris,
    },
    added,
    max,
  );
}

/** Registered URIs match exactly (OIDC Core §3.1.2.1); without a list any loopback URI does. */
export function isAllowedUri(registered: readonly string[] | undefined, uri: string): boolean {
  return registered === undefined ? isLoopbackUrl(uri) : registered.includes(uri);
}
