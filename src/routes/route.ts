import type { AuthorizationPolicy } from '../authz/policy.js';
import type { GatehouseConfig } from '../config/schema.js';
import type { HeaderTemplates } from '../identity/headerTemplates.js';

/** The header settings a route runs with: the global `headers.*`, overridden key by key by the route's. */
export type RouteHeaderSettings = GatehouseConfig['headers'];

/**
 * One application behind the gateway, compiled from `routes[]` (or from the single `upstream`,
 * the one-route case). Everything the hot path needs is precomputed here once per configuration.
 */
export interface Route {
  /** Logs, metrics labels, the identity assertion's `aud`. */
  readonly id: string;
  /** Position in `routes` (0 for the one-route case), for messages. */
  readonly index: number;
  /** Lower-cased; `*.example.com` for a wildcard; undefined: any host. */
  readonly host: string | undefined;
  /** As configured, with a trailing `/` removed unless it is `/`. */
  readonly pathPrefix: string;
  readonly upstream: string | undefined;
  readonly stripPathPrefix: boolean;
  /**
   * This route's own policy, checked after the global `authorization` (both must allow);
   * undefined when the route adds nothing (the one-route case).
   */
  readonly policy: AuthorizationPolicy | undefined;
  /** The route's skipAuth entries (the global ones apply on every route as well). */
  readonly skipAuth: readonly string[];
  /** Upper-cased methods answered without authentication. */
  readonly methodsWithoutAuth: ReadonlySet<string>;
  readonly headers: RouteHeaderSettings;
  /** The global `headers.templates` with the route's own, parsed once. */
  readonly templates: HeaderTemplates;
  readonly websocket: boolean;
  readonly upstreamConnections: number;
  readonly upstreamTimeoutSeconds: number;
}
