// The state every handler works on, in one object handed to each of them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClaimOverrides } from './claimOverrides.js';
import type { ClientRegistry } from './clients.js';
import { DeviceCodeStore } from './deviceCodes.js';
import { ExpiringMap } from './expiringMap.js';
import { FamilyTimelines } from './familyTimelines.js';
import { FaultTable } from './faults.js';
import { sendHtml, sendJson } from './http.js';
import { KeyRing } from './keys.js';
import { Lifecycle } from './lifecycle.js';
import type { Resolved, ResolvedOptions } from './options.js';
import { errorPage } from './pages.js';
import type { PushedRequest } from './par.js';
import type { ProfileSet } from './profiles.js';
import { RequestLog } from './requestLog.js';
import { SessionStore } from './sessions.js';
import { Stats } from './stats.js';
import { TokenStore } from './tokens.js';
import { TokenWatch } from './tokenWatch.js';
import type { UserDirectory } from './users.js';

/** A validated authorization request, waiting on the login page or turned into a code. */
export interface AuthRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | undefined;
  nonce: string | undefined;
  codeChallenge: string;
  loginHint: string | undefined;
  prompt: readonly string[];
  /** Google's access_type parameter. */
  accessType: string | undefined;
  /** RFC 8707 resource / audience named at authorize. */
  audience?: string | undefined;
}

export const INTERACTION_TTL_MS = 10 * 60_000;
const MAX_ENTRIES = 100_000;

export interface IdpContext {
  /** Set once the server listens (the port may be chosen by the OS). */
  issuer: string;
  readonly options: ResolvedOptions;
  readonly profiles: ProfileSet;
  readonly users: UserDirectory;
  readonly clients: ClientRegistry;
  readonly keys: KeyRing;
  readonly tokens: TokenStore;
  readonly sessions: SessionStore;
  /** Login pages awaiting an answer, by interaction id. */
  readonly interactions: ExpiringMap<string, AuthRequest>;
  /** Pushed authorization requests (RFC 9126) by request_uri, single use, 60 s. */
  readonly pushedRequests: ExpiringMap<string, PushedRequest>;
  /** Device authorizations (RFC 8628) awaiting a person at /device, or redeemed. */
  readonly devices: DeviceCodeStore;
  /** Subjects that granted Google-style offline access once (google profile). */
  readonly offlineConsents: ExpiringMap<string, true>;
  readonly stats: Stats;
  readonly lifecycle: Lifecycle;
  /** Who wants to see the tokens handed out (tests: DevIdp.onTokens). */
  readonly tokenWatch: TokenWatch;
  /** Per-test claims (POST /__admin/claims), and the claims each login session got. */
  readonly claimOverrides: ClaimOverrides;
  /** Injected faults (POST /__admin/faults, --fault, the faults option). */
  readonly faults: FaultTable;
  /** The live console's view (/__admin/): recent requests, and each family's tokens over time. */
  readonly requestLog: RequestLog;
  readonly timelines: FamilyTimelines;
  /** Milliseconds since the epoch, from the configured clock. */
  now(): number;
  log(message: string): void;
}

export function createContext({ options, profiles, users, clients, faults }: Resolved): IdpContext {
  const timelines = new FamilyTimelines();
  return {
    issuer: '',
    options,
    profiles,
    users,
    clients,
    keys: new KeyRing(),
    tokens: new TokenStore({ maxEntries: MAX_ENTRIES }, (id, reason, now) =>
      timelines.revoked(id, reason, now),
    ),
    sessions: new SessionStore(MAX_ENTRIES),
    interactions: new ExpiringMap(10_000),
    devices: new DeviceCodeStore(10_000),
    pushedRequests: new ExpiringMap(10_000),
    offlineConsents: new ExpiringMap(MAX_ENTRIES),
    stats: new Stats(),
    lifecycle: new Lifecycle(),
    tokenWatch: new TokenWatch(),
    claimOverrides: new ClaimOverrides(MAX_ENTRIES),
    faults: new FaultTable(faults),
    requestLog: new RequestLog(),
    timelines,
    now: () => options.clock.now(),
    log: options.quiet ? () => {} : (message) => process.stderr.write(`${message}\n`),
  };
}

/**
 * `path` (`/login`) as a link on this server's pages: a tenant's issuer has a path of its own
 * (`<root>/realms/main`), so its pages must name `/realms/main/login`, not the root's.
 */
export function pathOnIssuer(ctx: IdpContext, path: string): string {
  return `${new URL(ctx.issuer).pathname.replace(/\/$/, '')}${path}`;
}

/** Seconds. Resolved per token, because short-expiry can be switched on at runtime. */
export function accessTokenTtl(ctx: IdpContext): number {
  return ctx.options.accessTokenTtl ?? (ctx.profiles.has('short-expiry') ? 10 : 300);
}

export function idTokenTtl(ctx: IdpContext): number {
  return ctx.options.idTokenTtl ?? (ctx.profiles.has('short-expiry') ? 10 : 300);
}

export type Handler = (
  ctx: IdpContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
) => Promise<void>;

/** An OAuth error JSON response (RFC 6749 §5.2); counted in stats by its code. */
export function oauthError(
  ctx: IdpContext,
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  ctx.stats.error(error);
  ctx.requestLog.note(res, { error });
  sendJson(res, status, { error, error_description: description }, headers);
}

/** An error the browser user must read, for cases where redirecting back is not allowed. */
export function oauthErrorPage(
  ctx: IdpContext,
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
): void {
  ctx.stats.error(error);
  sendHtml(res, status, errorPage('The sign-in request is invalid', description, error));
}
