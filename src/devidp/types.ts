// Public types of the dev IdP. Kept apart from index.ts so internal modules can import them
// without importing the server (no cycles).

export interface DevUser {
  sub: string;
  username: string;
  email: string;
  email_verified?: boolean;
  /** Google Workspace's hosted domain: sent as `hd` under the google profile; absent for a consumer account. */
  hd?: string;
  name: string;
  groups: string[];
  roles: string[];
  /** Entra directory (tenant) id under profile `entra`; default entra.ts ENTRA_HOME_TENANT. */
  tid?: string;
}

/**
 * Where the dev IdP reads the time: token lifetimes, code, session and refresh-token expiry.
 * Structurally the same as the gateway's Clock, so a test can hand one clock to both and move
 * time for them at once; declared here because the dev IdP imports nothing from the gateway.
 * Timers (token-endpoint-slow delays, the sweeper, delivery timeouts) keep real time.
 */
export interface DevIdpClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** What one successful token response carried, exactly as sent (see DevIdp.onTokens). */
export interface IssuedTokens {
  accessToken: string;
  /** Absent when the response carries none (no offline access, a profile that omits it). */
  refreshToken?: string;
  idToken?: string;
}

/** A client added next to the default one (`--client`, `--clients-file`, `clients`). */
export interface DevClient {
  id: string;
  secret: string;
  /** Scopes it may request; default: any scope. */
  scopes?: string[];
  /** `aud` of its access tokens when a request names no resource/audience; default `--audience`. */
  audience?: string;
  /**
   * Default ['client_credentials']. Known: authorization_code, refresh_token, client_credentials,
   * urn:ietf:params:oauth:grant-type:token-exchange, urn:ietf:params:oauth:grant-type:device_code.
   */
  grantTypes?: string[];
}

export interface DevIdpOptions {
  /** Fault injection rules (see docs/dev-idp.md, Admin API: faults); validated at start. */
  faults?: unknown[];
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Default 9000; 0 picks a free port. */
  port?: number;
  /** Active profiles; an unknown name throws. */
  profiles?: string[];
  /** Seconds; default 300 (10 under short-expiry unless given). */
  accessTokenTtl?: number;
  /** Seconds; default 300 (10 under short-expiry unless given). */
  idTokenTtl?: number;
  /** Seconds; default 86400. */
  refreshTokenTtl?: number;
  /** Username: authorize approves at once as this user (no page). */
  autoLogin?: string;
  /** Users, or the path of a JSON file holding an array of users. */
  users?: DevUser[] | string;
  /** Default 'gatehouse'. */
  clientId?: string;
  /** Default 'gatehouse-dev-secret'. */
  clientSecret?: string;
  /** Exact redirect URIs; default: any URI on a loopback host. */
  redirectUris?: string[];
  /** Exact post-logout redirect URIs; default: any URI on a loopback host. */
  postLogoutRedirectUris?: string[];
  /** Where back-channel logout tokens are POSTed. */
  backchannelLogoutUri?: string;
  /** Rendered in an iframe (with iss and sid) when a session ends at end-session. */
  frontchannelLogoutUri?: string;
  /**
   * The `_claim_sources` endpoint named under azure-group-overage, `{sub}` replaced by the
   * URL-encoded subject; default `<issuer>/groups/{sub}`. Lets a test point a token at a
   * claim source elsewhere (another host, a redirector, a hostile server).
   */
  claimSourceEndpoint?: string;
  /** Seconds a device code (RFC 8628) stays valid; default 600. */
  deviceCodeTtl?: number;
  /** Seconds a device must wait between polls (RFC 8628 `interval`); default 5. */
  deviceInterval?: number;
  /** Delay of each token response under token-endpoint-slow; default 2000. */
  tokenDelayMs?: number;
  /** `aud` of access tokens when neither the request nor the client names one; default 'gatehouse-api'. */
  audience?: string;
  /** Clients besides the default one. */
  clients?: DevClient[];
  /** Path of a JSON array of clients (same shape as `clients`); added after `clients`. */
  clientsFile?: string;
  /**
   * RFC 7591 initial access token: POST /register answers 401 unless it carries
   * `Authorization: Bearer <registrationToken>`. Default: registration is open.
   */
  registrationToken?: string;
  /** How many clients POST /register may add before it refuses more; default 1000. */
  maxRegisteredClients?: number;
  /**
   * Extra issuers next to the root one, each `<root>/<name>` with its own discovery, endpoints,
   * keys, clients, users, sessions, tokens, profiles, faults, claims and stats (Keycloak-style
   * `realms/main`, Entra-style `<tenant-id>/v2.0`). Each starts from these same options. A name
   * is segments of A-Z a-z 0-9 . _ ~ - joined by "/", and must not start like a root endpoint.
   */
  issuerPaths?: string[];
  /** No console output. */
  quiet?: boolean;
  /** Default: the system clock. */
  clock?: DevIdpClock;
}

export interface DevIdpStats {
  grants: {
    authorization_code: number;
    refresh_token: number;
    client_credentials: number;
    /** RFC 8693 token exchanges that issued a token. */
    token_exchange: number;
    /** RFC 8628 device codes redeemed for tokens. */
    device_code: number;
  };
  errors: Record<string, number>;
  requests: {
    authorize: number;
    token: number;
    userinfo: number;
    jwks: number;
    discovery: number;
    introspect: number;
    /** POST /register requests, whatever their outcome. */
    register: number;
    /** Microsoft Graph /graph/v1.0/me/transitiveMemberOf pages (profile entra, group overage). */
    graph: number;
    /** POST /device_authorization requests (RFC 8628), whatever their outcome. */
    device_authorization: number;
    /** POST /par requests (RFC 9126), whatever their outcome. */
    par: number;
  };
  /** Clients registered through POST /register (201 answers). */
  registrations: number;
  /** Injected faults (POST /__admin/faults, --fault) that fired, per endpoint. */
  faults: Record<'token' | 'userinfo' | 'jwks' | 'discovery' | 'introspect' | 'authorize', { fired: number }>;
}

export interface BackchannelLogoutResult {
  delivered: boolean;
  status?: number;
}

/**
 * The in-process controls of one issuer: the root one (DevIdp itself) or a tenant's
 * (DevIdp.tenant(name)), which act on that issuer's state only.
 */
export interface DevIdpIssuer {
  /** `http://HOST:PORT` for the root issuer, `http://HOST:PORT/<name>` for a tenant; no trailing slash. */
  issuer: string;
  stats(): DevIdpStats;
  /** Zeroes the counters. */
  reset(): void;
  /** Replaces the active profiles; an unknown name throws. */
  setProfiles(p: string[]): void;
  profiles(): string[];
  /** Adds a new current key pair; the previous one stays in the JWKS. */
  rotateKeys(): void;
  /** Revokes the user's grants; returns how many live refresh tokens died. */
  revoke(sub: string): number;
  backchannelLogout(p: { sub?: string; sid?: string }): Promise<BackchannelLogoutResult>;
  /**
   * Calls `listener` with the tokens of every successful token response, so a test can look
   * for the real values (opaque refresh tokens included) where they must never appear, such as
   * logs. Returns the function that removes the listener.
   */
  onTokens(listener: (issued: IssuedTokens) => void): () => void;
  /**
   * Extra or overridden claims for later logins, as POST /__admin/claims: `user` for that user's
   * logins (all of them, or the next `logins`), no `user` for anyone's next `logins`. They go
   * into the ID token and userinfo of that login's session. Throws on a protected claim
   * (iss, sub, aud, exp, iat, nbf, nonce, azp, sid, auth_time, at_hash, c_hash) or unknown user.
   */
  setClaims(rule: DevClaimRule): DevClaimRule;
  /** The claim rules still pending, oldest first. */
  pendingClaims(): DevClaimRule[];
  /** Drops every pending claim rule (live sessions keep the claims they got). */
  clearClaims(): void;
  /** Adds a user (same shape as a `users` entry) who can log in at once; throws on a duplicate. */
  addUser(user: DevUser): DevUser;
}

export interface DevIdp extends DevIdpIssuer {
  port: number;
  /** Closes the server and every keep-alive socket, clears all timers (of every tenant too). */
  stop(): Promise<void>;
  /** The names given in `issuerPaths`, in that order. */
  tenants(): string[];
  /** The controls of the tenant `name` (one of `issuerPaths`); throws for an unknown name. */
  tenant(name: string): DevIdpIssuer;
}

export interface DevClaimRule {
  user?: string | undefined;
  claims: Record<string, unknown>;
  logins?: number | undefined;
}
