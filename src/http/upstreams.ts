import type { Route } from '../routes/route.js';
import type { Tracing } from '../util/tracing.js';
import type { ClientAddressResolver } from './clientAddress.js';
import { ManagedHeaders } from './managedHeaders.js';
import { UpstreamProxy } from './proxy.js';

export interface UpstreamsOptions {
  /** Our cookies, stripped from every upstream hop. */
  cookieNames: string[];
  clientAddress: ClientAddressResolver;
  /** `proxy.allowUnderscoreHeaders`. */
  allowUnderscoreHeaders: boolean;
  /** `securityHeaders`. */
  responseHeaders: Record<string, string>;
  /** The upstream spans and `traceparent` when tracing is on. */
  tracing?: Tracing;
}

/**
 * One keep-alive pool per route with an upstream (its own connection cap and timeout), so a slow
 * application cannot take the connections of another. Looked up by route id: a reconfigured
 * engine compiles new route objects with the same ids.
 */
export class Upstreams {
  private readonly byId = new Map<string, UpstreamProxy>();

  constructor(routes: readonly Route[], opts: UpstreamsOptions) {
    for (const route of routes) {
      if (!route.upstream) continue;
      this.byId.set(
        route.id,
        new UpstreamProxy({
          upstream: route.upstream,
          cookieNames: opts.cookieNames,
          clientAddress: opts.clientAddress,
          connections: route.upstreamConnections,
          headersTimeoutMs: route.upstreamTimeoutSeconds * 1000,
          managedHeaders: new ManagedHeaders({
            allowUnderscoreHeaders: opts.allowUnderscoreHeaders,
            setsAuthorization: route.headers.passAuthorizationHeader,
            // Every route's names, not only this one's: no client ever sends one of them on.
            templateNames: routes.flatMap((r) => r.templates.names),
          }),
          responseHeaders: opts.responseHeaders,
          ...(opts.tracing ? { tracing: opts.tracing } : {}),
        }),
      );
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** The route's pool; undefined for a route without an upstream (forward-auth only). */
  for(route: Route): UpstreamProxy | undefined {
    return this.byId.get(route.id);
  }

  /** Waits for the requests in flight on every pool, then closes them. */
  async close(): Promise<void> {
    await Promise.all([...this.byId.values()].map((p) => p.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.byId.values()].map((p) => p.destroy()));
  }
}

/**
 * The path + query sent to the route's upstream: as decided on, or without the route's
 * pathPrefix (`stripPathPrefix`: `/grafana/api?x` → `/api?x`, `/grafana` → `/`).
 */
export function upstreamUrl(route: Route, url: string): string {
  if (!route.stripPathPrefix) return url;
  const rest = url.slice(route.pathPrefix.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
