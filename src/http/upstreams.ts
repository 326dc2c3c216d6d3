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
  private byId = new Map<string, { key: string; proxy: UpstreamProxy }>();

  constructor(
    routes: readonly Route[],
    private readonly opts: UpstreamsOptions,
  ) {
    this.reconcile(routes);
  }

  /**
   * Pools for a (re)loaded set of routes: a route whose upstream and pool settings are unchanged
   * keeps its pool (and its keep-alive connections); a new or changed one gets a new pool; the
   * pools of routes that are gone finish their requests in flight, then close.
   */
  reconcile(routes: readonly Route[]): void {
    const opts = this.opts;
    // Every route's names, not only this one's: no client ever sends one of them on.
    const templateNames = routes.flatMap((r) => r.templates.names);
    const next = new Map<string, { key: string; proxy: UpstreamProxy }>();
    for (const route of routes) {
      if (!route.upstream) continue;
      const key = JSON.stringify([
        route.upstream,
        route.upstreamConnections,
        route.upstreamTimeoutSeconds,
        route.headers.passAuthorizationHeader,
        templateNames,
      ]);
      const kept = this.byId.get(route.id);
      if (kept && kept.key === key) {
        next.set(route.id, kept);
        continue;
      }
      const proxy = new UpstreamProxy({
        upstream: route.upstream,
        cookieNames: opts.cookieNames,
        clientAddress: opts.clientAddress,
        connections: route.upstreamConnections,
        headersTimeoutMs: route.upstreamTimeoutSeconds * 1000,
        managedHeaders: new ManagedHeaders({
          allowUnderscoreHeaders: opts.allowUnderscoreHeaders,
          setsAuthorization: route.headers.passAuthorizationHeader,
          templateNames,
        }),
        responseHeaders: opts.responseHeaders,
        ...(opts.tracing ? { tracing: opts.tracing } : {}),
      });
      next.set(route.id, { key, proxy });
    }
    for (const [id, old] of this.byId) {
      if (next.get(id) !== old) void old.proxy.close().catch(() => undefined);
    }
    this.byId = next;
  }

  get size(): number {
    return this.byId.size;
  }

  /** The route's pool; undefined for a route without an upstream (forward-auth only). */
  for(route: Route): UpstreamProxy | undefined {
    return this.byId.get(route.id)?.proxy;
  }

  /** Waits for the requests in flight on every pool, then closes them. */
  async close(): Promise<void> {
    await Promise.all([...this.byId.values()].map((p) => p.proxy.close()));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.byId.values()].map((p) => p.proxy.destroy()));
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
