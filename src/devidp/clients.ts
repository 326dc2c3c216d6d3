// The dev IdP's registered clients: the default one (--client-id/--client-secret), any added
// with --client / --clients-file, each with the scopes, audience and grant types it may use,
// and those registered at runtime through POST /register (registration.ts). Every endpoint
// (authorize, token, end-session, back- and front-channel logout) finds a client here, so a
// dynamically registered client is as first-class as the default one. Clients from options are
// validated once at start, so a typo in a clients file fails the start, not the first request.
import { readFileSync } from 'node:fs';
import type { DevClient } from './types.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  TOKEN_EXCHANGE_GRANT,
  DEVICE_CODE_GRANT,
] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A client as the endpoints see it, with every default filled in. */
export interface RegisteredClient {
  readonly id: string;
  readonly secret: string;
  /** Undefined: any scope (the default client). */
  readonly scopes: readonly string[] | undefined;
  /** The `aud` of its access tokens when the request names none. */
  readonly audience: string | undefined;
  readonly grantTypes: readonly GrantType[];
  /** Exact redirect URIs; undefined: any loopback URI (the option-configured clients' default). */
  readonly redirectUris?: readonly string[] | undefined;
  /** Exact post-logout redirect URIs; undefined: any loopback URI. */
  readonly postLogoutRedirectUris?: readonly string[] | undefined;
  /** Where its back-channel logout tokens go (OIDC Back-Channel Logout 1.0). */
  readonly backchannelLogoutUri?: string | undefined;
  /** What end-session frames for its sessions (OIDC Front-Channel Logout 1.0). */
  readonly frontchannelLogoutUri?: string | undefined;
  /** The one method it must authenticate with; undefined: either secret method (option clients). */
  readonly authMethod?: AuthMethod | undefined;
}

/** Why ClientRegistry.register refused a client. */
export class RegistryFullError extends Error {}

/** What an added client may do when its entry does not say: only client credentials. */
const DEFAULT_ADDED_GRANTS: readonly GrantType[] = ['client_credentials'];

function fail(source: string, message: string): never {
  throw new Error(`clients (${source}): ${message}`);
}

function isGrantType(v: string): v is GrantType {
  return (GRANT_TYPES as readonly string[]).includes(v);
}

/** One client from an object (clients file entry or parsed --client flag). */
export function toRegisteredClient(raw: unknown, source: string): RegisteredClient {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    fail(source, 'each client must be an object with "id" and "secret"');
  const c = raw as Record<string, unknown>;
  const known = new Set(['id', 'secret', 'scopes', 'audience', 'grantTypes']);
  for (const key of Object.keys(c)) {
    if (!known.has(key))
      fail(source, `unknown key "${key}" (known: id, secret, scopes, audience, grantTypes)`);
  }
  if (typeof c.id !== 'string' || c.id === '' || /\s|:/.test(c.id))
    fail(source, '"id" must be a non-empty string without spaces or colons');
  if (typeof c.secret !== 'string' || c.secret === '')
    fail(source, `client "${c.id}": "secret" must be a non-empty string`);
  const list = (key: string): string[] | undefined => {
    const v = c[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string' && s !== '' && !/\s/.test(s)))
      fail(source, `client "${c.id}": "${key}" must be an array of non-empty strings without spaces`);
    return v;
  };
  const scopes = list('scopes');
  const grants = list('grantTypes');
  for (const g of grants ?? []) {
    if (!isGrantType(g))
      fail(source, `client "${c.id}": unknown grant type "${g}" (known: ${GRANT_TYPES.join(', ')})`);
  }
  if (c.audience !== undefined && (typeof c.audience !== 'string' || c.audience === ''))
    fail(source, `client "${c.id}": "audience" must be a non-empty string`);
  return {
    id: c.id,
    secret: c.secret,
    scopes,
    audience: c.audience as string | undefined,
    grantTypes: (grants as GrantType[] | undefined) ?? DEFAULT_ADDED_GRANTS,
  };
}

/**
 * `--client id=ci-bot,secret=s3cret,scopes=api:read api:write,audience=grafana-api,grants=client_credentials`
 * Pairs are comma-separated; list values (scopes, grants) are space-separated, as in OAuth's
 * own `scope` parameter, so scopes may contain colons. A value cannot contain a comma: use a
 * clients file for that.
 */
export function parseClientFlag(flag: string): DevClient {
  const out: Record<string, unknown> = {};
  const names: Record<string, string> = {
    id: 'id',
    secret: 'secret',
    scopes: 'scopes',
    scope: 'scopes',
    audience: 'audience',
    grants: 'grantTypes',
    grant_types: 'grantTypes',
  };
  for (const part of flag.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new Error(`clients (--client): "${part}" is not key=value (in "${flag}")`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const name = names[key];
    if (name === undefined)
      throw new Error(
        `clients (--client): unknown key "${key}" (known: id, secret, scopes, audience, grants)`,
      );
    if (name in out) throw new Error(`clients (--client): "${key}" given twice (in "${flag}")`);
    out[name] =
      name === 'scopes' || name === 'grantTypes' ? value.split(/\s+/).filter((s) => s !== '') : value;
  }
  return out as unknown as DevClient;
}

export function loadClientsFile(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`clients file ${path}: cannot read (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`clients file ${path}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new Error(`clients file ${path}: must be a JSON array of clients`);
  return parsed;
}

export class ClientRegistry {
  readonly #byId = new Map<string, RegisteredClient>();
  readonly defaultClient: RegisteredClient;
  readonly #maxRegistered: number;
  #registered = 0;

  constructor(defaultClient: RegisteredClient, added: readonly RegisteredClient[], maxRegistered = 1000) {
    this.defaultClient = defaultClient;
    this.#maxRegistered = maxRegistered;
    for (const c of [defaultClient, ...added]) {
      if (this.#byId.has(c.id)) throw new Error(`clients: client id "${c.id}" is registered twice`);
      this.#byId.set(c.id, c);
    }
  }

  find(id: string): RegisteredClient | undefined {
    return this.#byId.get(id);
  }

  list(): RegisteredClient[] {
    return [...this.#byId.values()];
  }

  /**
   * Adds a client registered at runtime (POST /register). Bounded: nothing ever removes one, so
   * past the cap every registration is refused rather than growing the map without end.
   */
  register(client: RegisteredClient): void {
    if (this.#registered >= this.#maxRegistered) {
      throw new RegistryFullError(
        `the dev IdP holds ${this.#maxRegistered} dynamically registered clients, its limit (maxRegisteredClients); restart it to start afresh`,
      );
    }
    if (this.#byId.has(client.id)) throw new Error(`client id "${client.id}" is already registered`);
    this.#byId.set(client.id, client);
    this.#registered++;
  }
}

/** Whether every requested scope is one the client may have; undefined `allowed` means any. */
export function scopesAllowed(requested: readonly string[], allowed: readonly string[] | undefined): boolean {
  return allowed === undefined || requested.every((s) => allowed.includes(s));
}
