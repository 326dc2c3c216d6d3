import { AssertionKeyError } from '../assertion/keyFile.js';
import type { AssertionSigner } from '../assertion/signer.js';
import { startAssertions } from '../assertion/startAssertions.js';
import { identityMatchWarnings } from '../authz/identityWarnings.js';
import { ConfigError } from '../config/load.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { EngineContext } from '../engine/context.js';
import { cookieNames } from '../engine/cookies.js';
import { Engine } from '../engine/engine.js';
import { HandoffTickets } from '../engine/handoff.js';
import { LoginCookieCodec } from '../engine/loginCookie.js';
import { BrowserCrowdWatch } from '../engine/loginLimits.js';
import { compileHeaderTemplates, HeaderTemplateError } from '../identity/headerTemplates.js';
import { GatewayMetrics } from '../metrics.js';
import { claimMappingOf } from '../oidc/claimMapping.js';
import { presetFor } from '../oidc/presets/index.js';
import { OidcProvider } from '../oidc/provider.js';
import { CaBundleError, createProviderFetch, tracedProviderFetch } from '../oidc/providerFetch.js';
import { withClient } from '../oidc/settings.js';
import { RefreshCoordinator } from '../refresh/coordinator.js';
import type { RefreshSettings } from '../refresh/policy.js';
import { RouteTable } from '../routes/routeTable.js';
import { SessionService } from '../session/service.js';
import type { SessionStore } from '../session/store.js';
import { TracedStore } from '../session/tracedStore.js';
import { type Clock, systemClock } from '../util/clock.js';
import { createLogger, type Logger } from '../util/log.js';
import { startOpenTelemetry, TracingUnavailableError } from '../util/openTelemetry.js';
import { settledWithin } from '../util/settledWithin.js';
import { noTracing, type Tracing } from '../util/tracing.js';
import { resolveRegisteredClient } from './clientRegistration.js';
import { createStore } from './store.js';

/** What an embedder may supply instead of what the config would build. */
export interface GatewayOptions {
  clock?: Clock;
  logger?: Logger;
  /** Supply a store (tests, embedding); default: built from `session.store`. */
  store?: SessionStore;
  /**
   * This gateway is worker N (1-based) of `server.workers`: every log line it writes carries
   * `worker: N`, and its metrics are served by the primary, summed over the workers.
   */
  worker?: number;
}

/**
 * Everything a front door needs, built once from the config: store, provider, refresh
 * coordinator and the decision engine. The reverse proxy (`createGateway`) and the Node
 * middleware (`createGatehouseMiddleware`) are both built on it, so there is one wiring and one
 * decision path.
 */
export interface GatewayCore {
  readonly cfg: GatehouseConfig;
  readonly engine: Engine;
  readonly store: SessionStore;
  readonly provider: OidcProvider;
  readonly metrics: GatewayMetrics;
  readonly refresh: RefreshCoordinator;
  readonly logger: Logger;
  /** `tracing`: OpenTelemetry spans, or the no-op seam when off (util/tracing.ts). */
  readonly tracing: Tracing;
  /** Our cookie names (session, login): never passed on to the application. */
  readonly cookieNames: string[];
  /** Resolves when OIDC discovery first succeeds (it is retried with backoff until then). */
  readonly discovered: Promise<void>;
  /** Provider discovered and store healthy, with the reasons when not. */
  readiness(): { ok: boolean; reasons: string[] };
  /**
   * Stops discovery retries, waits (at most `timeoutMs`, default `shutdownTimeoutSeconds`) for
   * the refreshes under way to store their results, and closes the store.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Wires config → store, provider, refresh coordinator, engine (no front door). */
export async function createGatewayCore(
  configured: GatehouseConfig,
  opts: GatewayOptions = {},
): Promise<GatewayCore> {
  const clock = opts.clock ?? systemClock;
  const logger =
    opts.logger ??
    (opts.worker === undefined
      ? createLogger(configured.logging.level)
      : createLogger(configured.logging.level).child({ worker: opts.worker }));
  // First, before anything opens: tracing on without its optional packages is a configuration error (exit 78).
  let tracing: Tracing = noTracing;
  if (configured.tracing.enabled) {
    try {
      tracing = await startOpenTelemetry(configured.tracing, {
        onExportFailure: (dropped, cause) =>
          logger.warn(
            { dropped, cause, otlpEndpoint: configured.tracing.otlpEndpoint },
            'tracing: the collector did not take spans; they are dropped (requests are not affected)',
          ),
      });
    } catch (err) {
      if (err instanceof TracingUnavailableError) throw new ConfigError([err.message]);
      throw err;
    }
  }
  // One transport for every call to the provider (its internal CA, provider.caFile). The loader
  // has checked the bundle; a configuration built another way is checked here, also as exit 78.
  let fetchProvider: ReturnType<typeof createProviderFetch>;
  try {
    // Every call to the provider gets its client span (gatehouse.idp) when tracing is on.
    fetchProvider = tracedProviderFetch(createProviderFetch(configured.provider), tracing);
  } catch (err) {
    if (err instanceof CaBundleError) throw new ConfigError(err.problems);
    throw err;
  }
  const store = opts.store ?? (await createStore(configured, clock, logger));
  // The client: as configured, or registered at the provider (Dynamic Client Registration) first.
  let cfg: ReturnType<typeof withClient<GatehouseConfig>>;
  let assertions: AssertionSigner | undefined;
  try {
    cfg = withClient(
      configured,
      await resolveRegisteredClient(configured, logger, store, { fetch: fetchProvider }),
    );
    // The signing key of X-Gatehouse-Assertion: a key file, or one generated and shared through the store.
    assertions = await startAssertions(
      cfg.headers,
      cfg.publicUrl,
      store,
      [cfg.session.secret, ...cfg.session.previousSecrets],
      clock,
      logger,
    );
  } catch (err) {
    if (!opts.store) await store.close();
    if (err instanceof AssertionKeyError) throw new ConfigError([err.message]);
    throw err;
  }
  // Parsed once; the loader has checked them, a configuration built another way is checked here (exit 78).
  let headerTemplates: ReturnType<typeof compileHeaderTemplates>;
  let routes: RouteTable;
  try {
    headerTemplates = compileHeaderTemplates(
      cfg.headers.templates ?? {},
      'headers.templates',
      cfg.headers.maxTemplateValueBytes,
    );
    // Each route's templates too (global + its own).
    routes = new RouteTable(cfg);
  } catch (err) {
    if (!opts.store) await store.close();
    if (err instanceof HeaderTemplateError) throw new ConfigError(err.problems);
    throw err;
  }
  const metrics = new GatewayMetrics(!opts.logger);
  const preset = presetFor(cfg.provider);
  const shape = preset.shapeClaims;
  const secrets = [cfg.session.secret, ...cfg.session.previousSecrets];
  const sessions = new SessionService(
    // Session reads get their span (gatehouse.store.get) when tracing is on; off, the store itself.
    tracing.enabled ? new TracedStore(store, tracing) : store,
    {
      secrets,
      maxAgeMs: cfg.session.maxAgeSeconds * 1000,
      idleTimeoutMs: cfg.session.idleTimeoutSeconds * 1000,
      claims: claimMappingOf(cfg.provider),
      shapeClaims: shape && ((c) => shape(c, { clientId: cfg.provider.clientId, mapping: cfg.provider })),
      keepClaims: routes.keptClaims(),
    },
    clock,
    { logger, metrics },
  );
  const provider = new OidcProvider(cfg, { clock, logger, fetch: fetchProvider });
  const refreshSettings: RefreshSettings = {
    graceMs: cfg.refresh.graceSeconds * 1000,
    graceMaxFraction: cfg.refresh.graceMaxFraction,
    outageGraceMs: cfg.refresh.outageGraceSeconds * 1000,
    maxRefreshTokenAgeMs: cfg.refresh.maxRefreshTokenAgeSeconds * 1000,
  };
  const refresh = new RefreshCoordinator(
    sessions,
    provider,
    {
      ...refreshSettings,
      waitTimeoutMs: cfg.refresh.timeoutSeconds * 1000,
      retryBackoffMs: cfg.refresh.retryBackoffSeconds * 1000,
      leaseMs: (cfg.refresh.lockLeaseSeconds ?? cfg.provider.timeoutSeconds + 5) * 1000,
      maxInFlight: 10_000,
    },
    clock,
    logger,
    metrics,
    tracing,
  );
  const secure = cfg.publicUrl.startsWith('https:');
  const jar = cookieNames({ secure, base: cfg.session.cookieName, domain: cfg.session.cookieDomain });
  const ctx: EngineContext = {
    cfg,
    sessions,
    provider,
    refresh,
    refreshSettings,
    clock,
    logger,
    metrics,
    jar,
    loginCookies: new LoginCookieCodec([cfg.session.secret, ...cfg.session.previousSecrets]),
    routes,
    publicHostName: new URL(cfg.publicUrl).hostname.toLowerCase(),
    handoff: new HandoffTickets([cfg.session.secret, ...cfg.session.previousSecrets]),
    crowd: new BrowserCrowdWatch(logger, clock),
    headerTemplates,
    tracing,
  };
  if (assertions) ctx.assertions = assertions;
  const engine = new Engine(ctx);
  logger.info(
    { preset: preset.name, issuer: cfg.provider.issuer },
    `provider preset: ${preset.name} (${cfg.provider.presetChosenBecause})`,
  );
  for (const warning of identityMatchWarnings(cfg.authorization, preset)) {
    logger.warn({ config: 'authorization' }, warning);
  }
  const discovered = provider.start();
  return {
    cfg,
    engine,
    store,
    provider,
    metrics,
    refresh,
    logger,
    tracing,
    cookieNames: [jar.session, jar.login, jar.bind],
    discovered,
    readiness() {
      const reasons: string[] = [];
      if (!provider.ready) reasons.push(provider.notReadyReason);
      const h = store.health();
      if (!h.ok) reasons.push(h.reason ?? 'session store unavailable');
      return { ok: reasons.length === 0, reasons };
    },
    async close(timeoutMs = cfg.shutdownTimeoutSeconds * 1000) {
      provider.stop();
      // A refresh under way may have rotated the refresh token at the IdP already: its result
      // must reach the store, or the session ends at its next refresh.
      if (!(await settledWithin(refresh.settled(), timeoutMs))) {
        logger.warn(
          { pending: refresh.pending },
          'shutdown: refreshes still running at shutdownTimeoutSeconds; their results are lost',
        );
      }
      await store.close();
      // The spans of the last requests and refreshes, exported within what is left of the deadline.
      if (!(await settledWithin(tracing.shutdown(), Math.max(timeoutMs, 1000)))) {
        logger.warn('shutdown: the tracing exporter did not finish in time; its last spans are lost');
      }
    },
  };
}
