import type { Server } from 'node:http';
import { planReload, type ReloadPlan } from './config/reload.js';
import type { GatehouseConfig } from './config/schema.js';
import { createGatewayCore, type GatewayOptions } from './core/gatewayCore.js';
import type { Engine } from './engine/engine.js';
import { ClientAddressResolver, resolveClientsOf } from './http/clientAddress.js';
import { listenOn } from './http/listen.js';
import { type MetricsListener, startMetricsListener } from './http/metricsServer.js';
import { OpenSockets } from './http/openSockets.js';
import { RequestDrain } from './http/requestDrain.js';
import { createGatewayServer } from './http/reverseProxyServer.js';
import { securityHeadersFor } from './http/securityHeaders.js';
import { Upstreams } from './http/upstreams.js';
import type { GatewayMetrics } from './metrics.js';
import type { OidcProvider } from './oidc/provider.js';
import type { RefreshCoordinator } from './refresh/coordinator.js';
import type { SessionStore } from './session/store.js';
import { settledWithin } from './util/settledWithin.js';

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
  /**
   * Applies a re-read configuration (SIGHUP, `serve --watch`): rules, skipAuth, upstream headers
   * and the log level from the next request on, sessions and requests in flight untouched. Keys
   * that need a restart are returned (and logged) and keep their running value.
   */
  reload(next: GatehouseConfig): ReloadPlan;
  /** Resolves with the bound public URL once listening (and the metrics listener too, when set). */
  listen(): Promise<string>;
  /**
   * Graceful shutdown: stops accepting, closes WebSockets (clients reconnect elsewhere), lets the
   * requests and refreshes in flight finish within `shutdownTimeoutSeconds`, then closes the
   * store. Idempotent.
   */
  close(): Promise<void>;
}

/** Wires config → gateway core → reverse-proxy front door (which also serves forward-auth). */
export async function createGateway(cfg: GatehouseConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const core = await createGatewayCore(cfg, opts);
  const { engine, store, provider, metrics, refresh, logger, discovered } = core;
  // One view of who the client is, for RequestFacts.clientIp and the forwarding headers alike.
  const clients = new ClientAddressResolver(cfg.server.trustedProxies);
  const upstreams = new Upstreams(engine.ctx.routes.routes, {
    cookieNames: core.cookieNames,
    clientAddress: clients,
    allowUnderscoreHeaders: cfg.proxy.allowUnderscoreHeaders,
    responseHeaders: securityHeadersFor(cfg),
    tracing: core.tracing,
  });
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
    upstreams,
    openSockets,
    logger,
    metrics,
    publicUrl: cfg.publicUrl,
    readiness: () => core.readiness(),
    limits: cfg.server,
    tracing: core.tracing,
  });
  let metricsListener: MetricsListener | undefined;
  /** The configuration as last loaded (reload compares with it). */
  let running = cfg;

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
    reload(next) {
      const plan = planReload(running, next);
      engine.reconfigure(plan.settings);
      logger.level = plan.settings.logging.level;
      // Sockets opened under the old rules are re-authorized under the new ones now, not at the
      // next periodic re-check (never, with websocketRecheckSeconds: 0).
      if (plan.applied.some((k) => k === 'authorization' || k === 'skipAuth')) void openSockets.recheckAll();
      running = { ...running, ...plan.settings };
      logger.info(
        { applied: plan.applied, needsRestart: plan.needsRestart },
        plan.applied.length || plan.needsRestart.length
          ? `configuration reloaded: ${plan.applied.length ? `applied ${plan.applied.join(', ')}` : 'nothing to apply'}${plan.needsRestart.length ? `; needs a restart (running value kept): ${plan.needsRestart.join(', ')}` : ''}`
          : 'configuration reloaded: no change',
      );
      return plan;
    },
    async listen() {
      // Metrics first: a taken metrics port fails the start before the public port opens.
      // A worker's metrics are served by the primary, summed over the workers (src/cluster/primary.ts).
      if (cfg.metrics.listen !== undefined && opts.worker === undefined && !metricsListener) {
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
        if (!(await settledWithin(upstreams.close(), left()))) await upstreams.destroy();
        await core.close(left());
      })();
      return closing;
    },
  };
}
