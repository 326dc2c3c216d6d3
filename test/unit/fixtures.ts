/** Shared builders for the unit tests (not a test file itself). */

import type { AuthorizationPolicy } from '../../src/authz/policy.js';
import type { Identity } from '../../src/identity/identity.js';
import type { TokenResult } from '../../src/oidc/tokenResult.js';
import type { CoordinatorSettings } from '../../src/refresh/coordinator.js';
import type { SessionRecord } from '../../src/session/record.js';

export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

export function identity(over: Partial<Identity> = {}): Identity {
  return { sub: 'user-1', user: 'alice', email: 'alice@example.com', groups: ['dev'], roles: [], ...over };
}

/** A record as the policy sees it: expiry fields matter, tokens are opaque here. */
export function record(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    version: 1,
    sub: 'user-1',
    identity: identity(),
    tokens: 'sealed',
    hasRefreshToken: true,
    accessExpiresAt: T0 + 300_000,
    accessLifetimeMs: 300_000,
    refreshIssuedAt: T0,
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 86_400_000,
    ...over,
  };
}

export interface TokenResultInput {
  now: number;
  lifetimeMs?: number;
  accessToken?: string;
  refreshToken?: string | undefined;
  idToken?: string;
  claims?: Record<string, unknown> | undefined;
  rotated?: boolean;
}

export function tokenResult(i: TokenResultInput): TokenResult {
  const lifetimeMs = i.lifetimeMs ?? 300_000;
  const tokens: TokenResult['tokens'] = { accessToken: i.accessToken ?? 'access-token' };
  if (i.refreshToken !== undefined) tokens.refreshToken = i.refreshToken;
  if (i.idToken !== undefined) tokens.idToken = i.idToken;
  return {
    tokens,
    claims: 'claims' in i ? i.claims : { sub: 'user-1', preferred_username: 'alice', groups: ['dev'] },
    accessExpiresAt: i.now + lifetimeMs,
    accessLifetimeMs: lifetimeMs,
    rotated: i.rotated ?? i.refreshToken !== undefined,
  };
}

/** A promise with its settle functions exposed, to drive a fake IdP call step by step. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** True when `s` holds an ASCII control character (C0 or DEL): what must never reach a header. */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Lets pending promise callbacks (and the I/O-free store) run; never waits on wall-clock time. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Refresh coordinator settings as the gateway's defaults would give them, with overrides. */
export function coordinatorSettings(over: Partial<CoordinatorSettings> = {}): CoordinatorSettings {
  return {
    graceMs: 60_000,
    graceMaxFraction: 0.25,
    outageGraceMs: 300_000,
    maxRefreshTokenAgeMs: 0,
    waitTimeoutMs: 60_000,
    retryBackoffMs: 5_000,
    leaseMs: 35_000,
    maxInFlight: 100,
    ...over,
  };
}

/** An authorization policy that allows every authenticated user, with `p` on top. */
export function authzPolicy(p: Partial<AuthorizationPolicy> = {}): AuthorizationPolicy {
  return {
    allowedEmailDomains: [],
    allowedUsers: [],
    allowedGroups: [],
    allowedRoles: [],
    allowUnverifiedEmail: false,
    rules: [],
    ...p,
  };
}
