import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadConfig } from '../config/load.js';
import type { ConfigInput, GatehouseConfig } from '../config/schema.js';
import { createGatewayCore, type GatewayCore, type GatewayOptions } from '../core/gatewayCore.js';
import { stripCookies } from '../engine/cookies.js';
import type { RequestFacts } from '../engine/facts.js';
import { describeCause } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { type AllowDecision, answer, appendSetCookiesWhenSent, audienceOf, logAllowed } from './answer.js';
import { ClientAddressResolver, useClientAddressResolver } from './clientAddress.js';
import { forwardingFacts, forwardingHeaders, managedHeadersFor } from './managedHeaders.js';
import { type MetricsListener, startMetricsListener } from './metricsServer.js';
import { createOAuth2Routes } from './oauth2Routes.js';
import { factsFromNode, requestIdOf } from './requestFacts.js';
import type { RequestLog } from './requestLog.js';
import { sendJson } from './respond.js';
import { securityHeadersFor } from './securityHeaders.js';

/**
 * Gatehouse inside an application's own server (the middleware, the Fastify plugin): the same
 * core as the reverse proxy, built from the config, and the one admission step both doors run on
 * a request before the application may see it. A door adds only how its framework hands over the
 * request and lets the application run.
 */
export interface EmbeddedGatehouse {
  readonly cfg: GatehouseConfig;
  /** Rejects when start-up failed (the doors answer 503, see `answerNotStarted`). */
  readonly core: Promise<GatewayCore>;
  /**
   * Resolves once the store is connected, OIDC discovery succeeded and (with `metrics.listen`)
   * the metrics listener listens; rejects if start-up failed.
   */
  readonly ready: Promise<void>;
  /** The metrics listener's URL once listening (`metrics.listen` set); undefined otherwise. */
  readonly metricsUrl: string | undefined;
  /**
   * Answers the request (refused target, `/oauth2/*`, any decision but allow) and resolves
   * undefined, or prepares it for the application and resolves the allow decision with the facts
   * it was made on. `rawUrl`: the target as the client sent it (a mounted app sees less).
   */
  admit(
    c: GatewayCore,
    req: IncomingMessage,
    res: ServerResponse,
    rawUrl: string,
    requestId: string,
    log: RequestLog,
  ): Promise<Admitted | undefined>;
  /** Stops discovery retries, closes the metrics listener and the session store. */
  close(): Promise<void>;
}

export interface Admitted {
  decision: AllowDecision;
  facts: RequestFacts;
}

/** A config that already went through `loadConfig` (every section present, defaults filled in). */
function isLoaded(c: GatehouseConfig | ConfigInput): c is GatehouseConfig {
  const x = c as Partial<GatehouseConfig>;
  return (
    Array.isArray(x.skipAuth) &&
    typeof x.session?.maxAgeSeconds === 'number' &&
    typeof x.session.cookieName === 'string' &&
    typeof x.refresh?.graceSeconds === 'number' &&
    typeof x.login?.maxAttempts === 'number' &&
    typeof x.headers?.maxGroupsHeaderBytes === 'number' &&
    Array.isArray(x.authorization?.rules) &&
    typeof x.logging?.level === 'string' &&
    typeof x.server?.headersTimeoutSeconds === 'number' &&
    typeof x.metrics === 'object' &&
    // a removed key: let loadConfig name the fix
    !('enabled' in x.metrics)
  );
}

/**
 * `rawHeaders` and `headersDistinct` (what Hono's and other adapters read) made to say what
 * `req.headers` now says: a header removed there is removed here, ours replace the client's.
 */
function syncRawHeaders(req: IncomingMessage, ours: Record<string, string>): void {
  const raw: string[] = [];
  const distinct: Record<string, string[]> = {};
  const add = (name: string, lower: string, value: string) => {
    raw.push(name, value);
    const list = distinct[lower];
    if (list) list.push(value);
    else distinct[lower] = [value];
  };
  const src = req.rawHeaders;
  for (let i = 0; i + 1 < src.length; i += 2) {
    const name = src[i]!;
    const lower = name.toLowerCase();
    if (lower in ours || lower === 'cookie' || !(lower in req.headers)) continue;
    add(name, lower, src[i + 1]!);
  }
  if (req.headers.cookie !== undefined) add('cookie', 'cookie', req.headers.cookie);
  for (const [name, value] of Object.entries(ours)) add(name, name, value);
  req.rawHeaders = raw;
  req.headersDistinct = distinct;
}

export interface EmbeddedOptions extends GatewayOptions {
  /** Environment for `GATEHOUSE_*` overrides and `env:` secrets when a plain object is given (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * `config` is a loaded config (`loadConfig()`) or a plain object in the YAML shape, loaded here
 * (env overrides and `env:`/`file:` secrets included). A bad config throws `ConfigError` at once.
 * `door` names the front door in start-up failure logs.
 */
export function embedGatehouse(
  config: GatehouseConfig | ConfigInput,
  opts: EmbeddedOptions,
  door: string,
): EmbeddedGatehouse {
  const cfg = isLoaded(config)
    ? config
    : loadConfig({ object: config as Record<string, unknown>, env: opts.env ?? process.env });
  const { env: _env, ...gatewayOpts } = opts;
  const secure = cfg.publicUrl.startsWith('https:');
  // One view of who the client is, for RequestFacts.clientIp and the forwarding headers alike.
  const clients = new ClientAddressResolver(cfg.server.trustedProxies);
  const core = createGatewayCore(cfg, gatewayOpts);
  // The same metrics listener as the reverse proxy's (the door does not own the app's server,
  // and metrics never share its port).
  let metricsListener: MetricsListener | undefined;
  const metricsStarted = core.then(
    async (c) => {
      if (cfg.metrics.listen === undefined) return;
      metricsListener = await startMetricsListener(cfg.metrics.listen, c.metrics.registry, c.logger);
    },
    () => {}, // a core that failed to start is reported below and by `ready`
  );
  metricsStarted.catch((err) =>
    (opts.logger ?? createLogger(cfg.logging.level)).error(
      { err: describeCause(err), listen: cfg.metrics.listen },
      'gatehouse metrics listener failed to start',
    ),
  );
  const ready = core.then(async (c) => {
    await Promise.all([c.discovered, metricsStarted]);
  });
  // Mark as handled: start-up failures are answered per request (503) and by `ready` to whoever awaits it.
  ready.catch(() => {});
  core.catch((err) =>
    (opts.logger ?? createLogger(cfg.logging.level)).error(
      { err: describeCause(err) },
      `gatehouse ${door} failed to start`,
    ),
  );
  const managed = managedHeadersFor(cfg);
  const responseHeaders = Object.entries(securityHeadersFor(cfg));
  let oauth2: ReturnType<typeof createOAuth2Routes> | undefined;

  function routesFor(c: GatewayCore): ReturnType<typeof createOAuth2Routes> {
    oauth2 ??= createOAuth2Routes({
      engine: c.engine,
      logger: c.logger,
      metrics: c.metrics,
      publicUrl: cfg.publicUrl,
    });
    return oauth2;
  }

  async function admit(
    c: GatewayCore,
    req: IncomingMessage,
    res: ServerResponse,
    raw: string,
    requestId: string,
    log: RequestLog,
  ): Promise<Admitted | undefined> {
    useClientAddressResolver(req, clients);
    const built = factsFromNode(req, secure, requestId, raw, cfg.proxy);
    const f = built.facts;
    // A target the gateway and the app could read differently is refused before any routing.
    if (!built.ok) {
      answer(res, built.refusal, audienceOf(f), requestId, log);
      return undefined;
    }
    if (f.path.startsWith('/oauth2/') && (await routesFor(c)(req, res, f, log))) return undefined;
    const d = await c.engine.check(f);
    if (d.type !== 'allow') {
      answer(res, d, audienceOf(f), requestId, log);
      return undefined;
    }
    logAllowed(log, d);
    // Every header Gatehouse manages, in any spelling, is the client's no more (as in the proxy).
    const forwarding = forwardingFacts(req, clients);
    for (const name of Object.keys(req.headers)) if (managed.drops(name)) delete req.headers[name];
    const kept = stripCookies(req.headers.cookie, c.cookieNames);
    if (kept === undefined) delete req.headers.cookie;
    else req.headers.cookie = kept;
    const ours: Record<string, string> = {};
    forwardingHeaders(req, forwarding, secure, ours, false);
    ours['x-request-id'] = requestId;
    Object.assign(ours, d.upstreamHeaders);
    Object.assign(req.headers, ours);
    syncRawHeaders(req, ours);
    for (const [name, value] of responseHeaders) res.setHeader(name, value);
    appendSetCookiesWhenSent(res, d.setCookies);
    return { decision: d, facts: f };
  }

  return {
    cfg,
    core,
    ready,
    get metricsUrl() {
      return metricsListener?.url;
    },
    admit,
    async close() {
      let c: GatewayCore;
      try {
        c = await core;
      } catch {
        return;
      }
      await metricsStarted.catch(() => {});
      await metricsListener?.close();
      await c.close();
    },
  };
}

/** Fail closed: a request is never handed to the app when Gatehouse could not start. */
export function answerNotStarted(req: IncomingMessage, res: ServerResponse): void {
  sendJson(
    res,
    503,
    { error: 'not_ready', reason: 'The sign-in gateway failed to start; see the server log.' },
    requestIdOf(req),
  );
}
