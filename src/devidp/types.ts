// Public types of the dev IdP. Kept apart from index.ts so internal modules can import them
// without importing the server (no cycles).

export interface DevUser {
  sub: string;
  username: string;
  email: string;
  email_verified?: boolean;
  name: string;
  groups: string[];
  roles: string[];
}

export interface DevIdpOptions {
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
  /**
   * The `_claim_sources` endpoint named under azure-group-overage, `{sub}` replaced by the
   * URL-encoded subject; default `<issuer>/groups/{sub}`. Lets a test point a token at a
   * claim source elsewhere (another host, a redirector, a hostile server).
   */
  claimSourceEndpoint?: string;
  /** Delay of each token response under token-endpoint-slow; default 2000. */
  tokenDelayMs?: number;
  /** No console output. */
  quiet?: boolean;
}

export interface DevIdpStats {
  grants: { authorization_code: number; refresh_token: number };
  errors: Record<string, number>;
  requests: { authorize: number; token: number; userinfo: number; jwks: number; discovery: number };
}

export interface BackchannelLogoutResult {
  delivered: boolean;
  status?: number;
}

export interface DevIdp {
  /** `http://HOST:PORT`, no trailing slash. */
  issuer: string;
  port: number;
  /** Closes the server and every keep-alive socket, clears all timers. */
  stop(): Promise<void>;
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
}
