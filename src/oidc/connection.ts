import type * as client from 'openid-client';
import type { Logger } from '../util/log.js';
import type { ProviderKeys } from './jwks.js';
import type { OfflineAccessPlan } from './offlineAccess.js';
import type { ProviderPreset } from './presets/preset.js';
import type { ProviderFetch } from './providerFetch.js';
import type { ProviderSettings } from './settings.js';

/** The checks a login flow carries from the authorization request to the callback. */
export interface CallbackChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** What a preset's identity source is given to reach the provider. */
export interface IdentitySourceContext {
  settings: ProviderSettings;
  preset: ProviderPreset;
  logger: Logger;
  /** Runs one IdP call under the provider's semaphore (bounded concurrency). */
  run: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The transport of every call to the provider (providerFetch.ts: `provider.caFile`). */
  fetch: ProviderFetch;
  /**
   * On a background re-read of discovery (`provider.discoveryRefreshSeconds`): the connection in
   * use, so a source can keep what did not change (the JWKS cache) and log only what did.
   */
  previous?: ProviderConnection | undefined;
}

/**
 * A preset's identity source: reaches the provider (discovery, or endpoints known in advance) and
 * resolves with the connection, or throws, and OidcProvider retries with backoff.
 */
export type IdentitySource = (ctx: IdentitySourceContext) => Promise<ProviderConnection>;

/** A token endpoint answer as openid-client returns it (with the ID token's claims, if any). */
export type GrantResponse = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

export interface SignedIn {
  tokens: client.TokenEndpointResponse;
  claims: Record<string, unknown>;
  /** True when a refresh token should have come and did not (logged once, with the plan's hint). */
  refreshTokenMissing: boolean;
}

export interface Reread {
  /** The tokens to keep: the grant's, minus an ID token whose signature did not verify. */
  tokens: client.TokenEndpointResponse;
  /** The identity re-read, or undefined: the session keeps the one it has. */
  claims: Record<string, unknown> | undefined;
  /** Why the identity could not be re-read, when it could not (logged at warn). */
  unread?: unknown;
}

/**
 * The provider once reached, as its identity source speaks to it: OpenID Connect (an ID token,
 * openIdConnect.ts) or OAuth 2.0 with identity from an API (githubOAuth.ts). OidcProvider drives
 * the grants through it; nothing else in the gateway sees the difference.
 */
export interface ProviderConnection {
  readonly configuration: client.Configuration;
  readonly offline: OfflineAccessPlan;
  /** The provider's signing keys, or undefined when it publishes none (no back-channel logout then). */
  readonly keys: ProviderKeys | undefined;
  /** Authorization request parameters of this protocol (a `nonce` only where an ID token brings it back). */
  authorizationParams(nonce: string): Record<string, string>;
  /** The code grant, and who signed in. Throws what openid-client, jose or the API throw (errors.ts codes them). */
  exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<SignedIn>;
  /**
   * After a successful refresh grant: the identity, re-read. The grant has spent the old refresh
   * token, so this never throws the new tokens away (a failure is reported in `unread`), except
   * for an OidcError `subject_changed`, thrown before anything is kept.
   */
  reread(tokens: GrantResponse, previousClaims: Record<string, unknown> | undefined): Promise<Reread>;
  /** True when these tokens never expire, so the session's own lifetime rules (GitHub OAuth app tokens). */
  lastsTheSession(tokens: client.TokenEndpointResponse): boolean;
  /** The refresh grant, when not openid-client's `refreshTokenGrant` (multi-tenant Entra: per-tenant issuer). */
  readonly refreshGrant?: ((refreshToken: string) => Promise<GrantResponse>) | undefined;
}
