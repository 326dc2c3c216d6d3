/**
 * An engine in one process for unit tests (not a test file itself): the real Engine, session
 * service, refresh coordinator and memory store on a ManualClock, behind a fake identity
 * provider whose answers each test sets. A harness is also one client (a browser, or a script
 * making API calls) with its own cookies.
 */

import { loadConfig } from '../../src/config/load.js';
import type { GatehouseConfig } from '../../src/config/schema.js';
import type { EngineContext } from '../../src/engine/context.js';
import { type CookieJar, cookieNames, readCookie } from '../../src/engine/cookies.js';
import type { Decision } from '../../src/engine/decision.js';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import type { RequestFacts } from '../../src/engine/facts.js';
import { HandoffTickets } from '../../src/engine/handoff.js';
import { LoginCookieCodec } from '../../src/engine/loginCookie.js';
import { BrowserCrowdWatch } from '../../src/engine/loginLimits.js';
import { compileHeaderTemplates } from '../../src/identity/headerTemplates.js';
import { GatewayMetrics } from '../../src/metrics.js';
import type { CallbackChecks } from '../../src/oidc/connection.js';
import type { AuthorizationRequest, OidcProvider } from '../../src/oidc/provider.js';
import type { TokenResult } from '../../src/oidc/tokenResult.js';
import { RefreshCoordinator } from '../../src/refresh/coordinator.js';
import { RouteTable } from '../../src/routes/routeTable.js';
import { SessionService } from '../../src/session/service.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { GatehouseError } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { jsonLogSink } from '../helpers/logSink.js';
import { T0, tokenResult } from './fixtures.js';

export const PUBLIC_URL = 'http://gatehouse.test';
export const IDP_AUTHORIZE = 'https://idp.test/authorize';

/** What the user signs in as, and what a refresh says about them afterwards (a new group). */
export const CLAIMS = { sub: 'user-1', preferred_username: 'alice', groups: ['dev'] };
export const REFRESHED_CLAIMS = { ...CLAIMS, groups: ['dev', 'ops'] };

/**
 * The provider as the engine and the refresh coordinator use it. Every grant succeeds unless a
 * test says otherwise (`exchangeWith`, `refreshWith`); every call is recorded.
 */
export class FakeIdp {
  /** False: discovery has not succeeded yet, so no sign-in can start (what OidcProvider throws then). */
  discovered = true;
  readonly authorizations: AuthorizationRequest[] = [];
  readonly refreshCalls: string[] = [];
  readonly exchanges: CallbackChecks[] = [];
  serverMetadata = undefined;
  private grants = 0;

  constructor(private readonly clock: ManualClock) {}

  exchangeWith: (callbackUrl: URL, checks: CallbackChecks) => Promise<TokenResult> = async () =>
    this.grant(CLAIMS);
  refreshWith: (refreshToken: string) => Promise<TokenResult> = async () => this.grant(REFRESHED_CLAIMS);

  /** A token result as a rotating IdP issues it: new access and refresh tokens each time. */
  grant(claims: Record<string, unknown>): TokenResult {
    const n = ++this.grants;
    return tokenResult({
      now: this.clock.now(),
      accessToken: `at-${n}`,
      refreshToken: `rt-${n}`,
      claims,
    });
  }

  async authorizationUrl(req: AuthorizationRequest): Promise<string> {
    this.authorizations.push(req);
    if (!this.discovered) {
      throw new GatehouseError(
        'provider_unavailable',
        503,
        'The sign-in service is not reachable yet. Please try again in a moment.',
      );
    }
    return `${IDP_AUTHORIZE}?state=${encodeURIComponent(req.state)}`;
  }

  exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<TokenResult> {
    this.exchanges.push(checks);
    return this.exchangeWith(callbackUrl, checks);
  }

  refresh(refreshToken: string): Promise<TokenResult> {
    this.refreshCalls.push(refreshToken);
    return this.refreshWith(refreshToken);
  }

  endSessionUrl(): string | undefined {
    return undefined;
  }
}

/** The request a harness's client makes: a browser navigation, or an API call from a script. */
export type ClientKind = 'navigation' | 'api';

export interface HarnessOptions extends EngineOptions {
  /** Config sections to set (merged over a minimal valid config, one level deep). */
  config?: Record<string, Record<string, unknown> | unknown[]>;
  client?: ClientKind;
}

export class EngineHarness {
  readonly clock = new ManualClock(T0);
  readonly idp = new FakeIdp(this.clock);
  readonly logs: Array<Record<string, unknown>> = [];
  readonly cfg: GatehouseConfig;
  readonly store: MemoryStore;
  readonly sessions: SessionService;
  readonly refresh: RefreshCoordinator;
  readonly jar: CookieJar;
  readonly engine: Engine;
  client: ClientKind;
  /** The facts of the last request made (what the engine saw). */
  lastRequest: RequestFacts | undefined;
  private readonly cookies = new Map<string, string>();
  private requests = 0;

  constructor(opts: HarnessOptions = {}) {
    this.client = opts.client ?? 'navigation';
    const base: Record<string, Record<string, unknown>> = {
      provider: { issuer: 'https://idp.test', clientId: 'gatehouse', clientSecret: 'client-secret' },
      session: { secret: 'unit-secret-unit-secret-unit-secret-0123456789' },
    };
    const object: Record<string, unknown> = { publicUrl: PUBLIC_URL, ...base };
    for (const [k, v] of Object.entries(opts.config ?? {})) {
      object[k] = Array.isArray(v) ? v : { ...base[k], ...v };
    }
    this.cfg = loadConfig({ object, env: {} });
    const cfg = this.cfg;
    const logger = createLogger('info', jsonLogSink(this.logs));
    const metrics = new GatewayMetrics();
    this.store = new MemoryStore({ maxSessions: 1000, clock: this.clock });
    this.sessions = new SessionService(
      this.store,
      {
        secrets: [cfg.session.secret],
        maxAgeMs: cfg.session.maxAgeSeconds * 1000,
        idleTimeoutMs: cfg.session.idleTimeoutSeconds * 1000,
        claims: cfg.provider,
      },
      this.clock,
      { logger, metrics },
    );
    const refreshSettings = {
      graceMs: cfg.refresh.graceSeconds * 1000,
      graceMaxFraction: cfg.refresh.graceMaxFraction,
      outageGraceMs: cfg.refresh.outageGraceSeconds * 1000,
      maxRefreshTokenAgeMs: cfg.refresh.maxRefreshTokenAgeSeconds * 1000,
    };
    this.refresh = new RefreshCoordinator(
      this.sessions,
      this.idp,
      {
        ...refreshSettings,
        waitTimeoutMs: cfg.refresh.timeoutSeconds * 1000,
        retryBackoffMs: cfg.refresh.retryBackoffSeconds * 1000,
        leaseMs: 30_000,
        maxInFlight: 100,
      },
      this.clock,
      logger,
      metrics,
    );
    this.jar = cookieNames({ secure: false, base: cfg.session.cookieName });
    const ctx: EngineContext = {
      cfg,
      sessions: this.sessions,
      provider: this.idp as unknown as OidcProvider,
      refresh: this.refresh,
      refreshSettings,
      clock: this.clock,
      logger,
      metrics,
      jar: this.jar,
      loginCookies: new LoginCookieCodec([cfg.session.secret]),
      routes: new RouteTable(cfg),
      publicHostName: new URL(cfg.publicUrl).hostname.toLowerCase(),
      handoff: new HandoffTickets([cfg.session.secret]),
      crowd: new BrowserCrowdWatch(logger, this.clock),
      headerTemplates: compileHeaderTemplates(cfg.headers.templates, 'headers.templates'),
    };
    this.engine = new Engine(ctx, opts.credentials ? { credentials: opts.credentials } : {});
  }

  /** The facts of a request from this client to `url` (path and query), with its cookies. */
  request(url: string, over: Partial<RequestFacts> = {}): RequestFacts {
    const q = url.indexOf('?');
    const cookieHeader = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') || undefined;
    const browser = this.client === 'navigation';
    const f: RequestFacts = {
      method: 'GET',
      path: q === -1 ? url : url.slice(0, q),
      url,
      host: 'gatehouse.test',
      secure: false,
      cookieHeader,
      authorization: undefined,
      accept: browser ? 'text/html,application/xhtml+xml' : 'application/json',
      secFetchMode: browser ? 'navigate' : 'cors',
      secFetchDest: browser ? 'document' : 'empty',
      xRequestedWith: undefined,
      secFetchSite: browser ? 'none' : 'same-origin',
      origin: undefined,
      referer: undefined,
      clientIp: '192.0.2.10',
      requestId: `req-${++this.requests}`,
      ...over,
    };
    this.lastRequest = f;
    return f;
  }

  check(url: string): Promise<Decision> {
    return this.engine.check(this.request(url));
  }

  /** Keeps what a browser keeps of an answer's Set-Cookie values (Max-Age=0 deletes). */
  keep(setCookies: readonly string[], opts: { dropSession?: boolean } = {}): void {
    for (const c of setCookies) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      if (opts.dropSession && name === this.jar.session) continue;
      if (/;\s*Max-Age=0\b/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1));
    }
  }

  /** The client's current value of a cookie. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** A session as a completed login leaves it (tokens from the fake IdP); the client keeps its cookie. */
  async signIn(opts: { refreshToken?: boolean } = {}): Promise<{ key: string }> {
    const result = this.idp.grant(CLAIMS);
    if (opts.refreshToken === false) delete result.tokens.refreshToken;
    const { key, cookieValue } = await this.sessions.create(result, this.sessions.identityFrom(CLAIMS));
    this.cookies.set(this.jar.session, cookieValue);
    return { key };
  }

  /** Follows a redirect to the fake IdP: the `state` it carries. */
  static stateOf(d: Decision): string {
    if (d.type !== 'redirect' || !d.location.startsWith(IDP_AUTHORIZE)) {
      throw new Error(`expected a redirect to the IdP, got ${JSON.stringify(d)}`);
    }
    return new URL(d.location).searchParams.get('state') ?? '';
  }

  /** The IdP's redirect back to /oauth2/callback with these parameters, as the browser sends it. */
  callback(params: Record<string, string>): Promise<Decision> {
    const url = `/oauth2/callback?${new URLSearchParams(params)}`;
    return this.engine.callback(this.request(url), new URL(url, PUBLIC_URL));
  }

  /** Lets pending promise callbacks run (the memory store and the fake IdP do no I/O). */
  async ticks(n = 10): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  }

  /** Whether the last request presented a session cookie. */
  presentedSession(): boolean {
    return readCookie(this.lastRequest?.cookieHeader, this.jar.session) !== undefined;
  }
}
