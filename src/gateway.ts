import type { Server } from 'node:http';
import { identityMatchWarnings } from './authz/identityWarnings.js';
import type { GatehouseConfig } from './config/schema.js';
import type { EngineContext } from './engine/context.js';
import { cookieNames } from './engine/cookies.js';
import { Engine } from './engine/engine.js';
import { LoginCookieCodec } from './engine/loginCookie.js';
import { BrowserCrowdWatch } from './engine/loginLimits.js';
import { ClientAddressResolver, resolveClientsOf } from './http/clientAddress.js';
import { listenOn } from './http/listen.js';
import { managedHeadersFor } from './http/managedHeaders.js';
import { type MetricsListener, startMetricsListener } from './http/metricsServer.js';
import { OpenSockets } from './http/openSockets.js';
import { UpstreamProxy } from './http/proxy.js';
import { RequestDrain } from './http/requestDrain.js';
import { securityHeadersFor } from './http/securityHeaders.js';
import { createGatewayServer } from './http/server.js';
import { GatewayMetrics } from './metrics.js';
import { presetNamed } from './oidc/presets/index.js';
import { OidcProvider } from './oidc/provider.js';
import { RefreshCoordinator } from './refresh/coordinator.js';
import type { RefreshSettings } from './refresh/policy.js';
import { SessionService } from './session/service.js';
import type { SessionStore } from './session/store.js';
import { MemoryStore } from './store/memoryStore.js';
import { type Clock, systemClock } from './util/clock.js';
import { createLogger, type Logger } from './util/log.js';
import { settledWithin } from './util/settledWithin.js';

export interface GatewayOptions {
  clock?: Clock;
  logger?: Logger;
  /** Supply a store (tests, embedding); default: built from `session.store`. */
  store?: SessionStore;
}

export interface Gateway {
  readonly cfg: GatehouseConfig;
  readonly engine: Engine;
  readonly server: Server;
  readonly store: SessionStore;
  readonly provider: OidcProvider;
  readonly metrics: GatewayMetrics;
  readonly refresh: RefreshCoordinator;
  /** Proxied WebSockets, bound to their sessions. */
  readonly openSockets: OpenSockets;
  /** Resolves when OIDC discovery first succeeds (it is retried with backoff until then). */
  readonly discovered: Promise<void>;
  /**
   * The metrics listener's URL (`metrics.listen`) once `listen()` resolved; undefined when
   * metrics are off.
   */
  readonly metricsUrl: string | undefined;
  /** Resolves with the bound public URL once listening (and the metrics listener too, when set). */
  listen(): Promise<string>;
  /**
   * Graceful shutdown: stops accepting, closes WebSockets (clients reconnect elsewhere), lets the
   * requests and refreshes in flight finish within `shutdownTimeoutSeconds`, then closes the
   * store. Idempotent.
   */
  close(): Promise<void>;
}

export async function createStore(cfg: GatehouseConfig, clock: Clock, logger: Logger): Promise<SessionStore> {
  const s = cfg.session;
  if (s.store === 'redis') {
    const { openRedisStore } = await import('./store/redisStore.js');
    return openRedisStore(
      {
        url: s.redisUrl,
        sentinels: s.redisSentinels,
        sentinelName: s.redisSentinelName,
        clusterNodes: s.redisClusterNodes,
        commandTimeoutMs: s.redisCommandTimeoutMs,
        keyPrefix: s.redisKeyPrefix,
        cacheTtlMs: s.cacheTtlMs,
        maxPendingFlows: cfg.login.maxPendingFlowsTotal,
      },
      logger,
    );
  }
  return new MemoryStore({
    maxSessions: cfg.session.maxSessions,
    maxFlows: cfg.login.maxPendingFlowsTotal,
    clock,
  });
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
  cfg: GatehouseConfig,
  opts: GatewayOptions = {},
): Promise<GatewayCore> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(cfg.logging.level);
  const metrics = new GatewayMetrics(!opts.logger);
  const store = opts.store ?? (await createStore(cfg, clock, logger));
  const secrets = [cfg.session.secret, ...cfg.session.previousSecrets];
  const sessions = new SessionService(
    store,
    {
      secrets,
      maxAgeMs: cfg.session.maxAgeSeconds * 1000,
      idleTimeoutMs: cfg.session.idleTimeoutSeconds * 1000,
      claims: cfg.provider,
    },
    clock,
    { logger, metrics },
  );
  const provider = new OidcProvider(cfg, { clock, logger });
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
  );
  const secure = cfg.publicUrl.startsWith('https:');
  const jar = cookieNames({ secure, base: cfg.session.cookieName });
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
    crowd: new BrowserCrowdWatch(logger, clock),
  };
  const engine = new Engine(ctx);
  for (const warning of identityMatchWarnings(cfg.authorization, presetNamed(cfg.provider.preset))) {
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
    cookieNames: [jar.session, jar.login],
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
    },
  };
}

/** Wires config → gateway core → reverse-proxy front door (which also serves forward-auth). */
export async function createGateway(cfg: GatehouseConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const core = await createGatewayCore(cfg, opts);
  const { engine, store, provider, metrics, refresh, logger, discovered } = core;
  // One view of who the client is, for RequestFacts.clientIp and the forwarding headers alike.
  const clients = new ClientAddressResolver(cfg.server.trustedProxies);
  const proxy = cfg.upstream
    ? new UpstreamProxy({
        upstream: cfg.upstream,
        cookieNames: core.cookieNames,
        clientAddress: clients,
        managedHeaders: managedHeadersFor(cfg),
        responseHeaders: securityHeadersFor(cfg),
      })
    : undefined;
  const openSockets = new OpenSockets({
    check: (f) => engine.check(f),
    storeEvents: store.events,
    recheckMs: cfg.session.websocketRecheckSeconds * 1000,
    logger,
    onCount: (n) => metrics.openSockets.set(n),
    onEnded: (status) => metrics.socketsEnded.inc({ status: String(status) }),
  });
  const server = createGatewayServer({
    engine,
    proxy,
    openSockets,
    logger,
    metrics,
    publicUrl: cfg.publicUrl,
    readiness: () => core.readiness(),
    limits: cfg.server,
  });
  let metricsListener: MetricsListener | undefined;

  // RequestFacts.clientIp: the socket's peer, or the client behind one of server.trustedProxies.
  resolveClientsOf(server, clients);

  const requests = new RequestDrain(server);
  let closing: Promise<void> | undefined;

  return {
    cfg,
    engine,
    server,
    store,
    provider,
    metrics,
    refresh,
    openSockets,
    discovered,
    get metricsUrl() {
      return metricsListener?.url;
    },
    async listen() {
      // Metrics first: a taken metrics port fails the start before the public port opens.
      if (cfg.metrics.listen !== undefined && !metricsListener) {
        metricsListener = await startMetricsListener(cfg.metrics.listen, metrics.registry, logger);
      }
      try {
        return await listenOn(server, cfg.listen);
      } catch (err) {
        await metricsListener?.close();
        metricsListener = undefined;
        throw err;
      }
    },
    close() {
      closing ??= (async () => {
        // One deadline for everything, so shutdown never outlives shutdownTimeoutSeconds.
        const deadline = performance.now() + cfg.shutdownTimeoutSeconds * 1000;
        const left = () => Math.max(0, deadline - performance.now());
        provider.stop();
        openSockets.close();
        const metricsClosed = metricsListener?.close();
        // Stop accepting, let the requests in flight finish (bounded), then close what is left.
        // Refreshes under way (background ones included) run to completion meanwhile; core.close
        // waits for them, with whatever time is left, before it closes the store.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (!(await settledWithin(requests.idle(), left()))) {
          logger.warn(
            { inFlight: requests.active },
            'shutdown: requests still running at shutdownTimeoutSeconds; closing their connections',
          );
        }
        server.closeAllConnections();
        await settledWithin(closed, left());
        if (metricsClosed) await settledWithin(metricsClosed, left());
        // Upstream requests whose client is gone would otherwise hold the pool until undici's
        // own timeouts (60 s).
        if (proxy && !(await settledWithin(proxy.close(), left()))) await proxy.destroy();
        await core.close(left());
      })();
      return closing;
    },
  };
}
