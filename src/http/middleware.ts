import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigInput, GatehouseConfig } from '../config/schema.js';
import type { Identity } from '../identity/identity.js';
import { answerNotStarted, type EmbeddedOptions, embedGatehouse } from './embedded.js';
import { runLogged } from './requestLog.js';

/** The request as the application sees it after the middleware let it through. */
export interface GatehouseRequest extends IncomingMessage {
  /** Who is signed in; undefined on `skipAuth` paths. */
  gatehouse?: Identity | undefined;
  /** Set by Express/connect; the middleware decides on it when present (mounted apps). */
  originalUrl?: string;
}

export type NextFunction = (err?: unknown) => void;

export interface GatehouseMiddleware {
  /** connect/Express-compatible `(req, res, next)`. */
  handler(req: IncomingMessage, res: ServerResponse, next: NextFunction): void;
  /**
   * Resolves once the store is connected, OIDC discovery succeeded and (with `metrics.listen`)
   * the metrics listener listens; rejects if start-up failed.
   */
  readonly ready: Promise<void>;
  /** The metrics listener's URL once listening (`metrics.listen` set); undefined otherwise. */
  readonly metricsUrl: string | undefined;
  /** Stops discovery retries, closes the metrics listener and the session store. */
  close(): Promise<void>;
}

export type MiddlewareOptions = EmbeddedOptions;

/**
 * Gatehouse as a connect/Express/node:http middleware, built on the same core (store, refresh
 * coordinator, engine) as the reverse proxy. It serves `/oauth2/*` itself; for any other path it
 * runs `engine.check` and, on allow, replaces client-sent identity headers on `req.headers` with
 * the real ones, removes the Gatehouse cookies from `req.headers.cookie`, sets
 * `req.gatehouse = identity`, rewrites `req.url` to the normalised path that was authorized, and
 * calls `next()`. Otherwise it answers exactly like the reverse proxy (302 to the IdP, 401 JSON,
 * 403 page/JSON, 503...) and `next` is never called.
 *
 * `config` is a loaded config (`loadConfig()`) or a plain object in the YAML shape, loaded here
 * (env overrides and `env:`/`file:` secrets included). A bad config throws `ConfigError` at once.
 */
export function createGatehouseMiddleware(
  config: GatehouseConfig | ConfigInput,
  opts: MiddlewareOptions = {},
): GatehouseMiddleware {
  const gate = embedGatehouse(config, opts, 'middleware');
  return {
    ready: gate.ready,
    get metricsUrl() {
      return gate.metricsUrl;
    },
    handler(req: GatehouseRequest, res, next) {
      gate.core.then(
        (c) =>
          runLogged(c, req, res, async (requestId, log) => {
            // Express strips a mount path from req.url; decide on the full path the client asked for.
            const raw = req.originalUrl ?? req.url ?? '/';
            const admitted = await gate.admit(c, req, res, raw, requestId, log);
            if (!admitted) return;
            req.gatehouse = admitted.decision.identity;
            // The app must route on the path that was authorized (`/public/../admin` is `/admin`).
            if (req.url === raw) req.url = admitted.facts.url;
            next();
          }),
        () => answerNotStarted(req, res),
      );
    },
    close: () => gate.close(),
  };
}
