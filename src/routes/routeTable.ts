import { type HostPattern, hostMatches, hostPattern, splitHost } from '../authz/hostPattern.js';
import { pathUnder } from '../authz/pathPrefix.js';
import type { PathReadings } from '../authz/pathReadings.js';
import type { AuthorizationPolicy } from '../authz/policy.js';
import { DEFAULT_ROUTE_ID, derivedRouteId, trimmedPrefix } from '../config/routeChecks.js';
import type { GatehouseConfig, RouteConfig } from '../config/schema.js';
import { compileHeaderTemplates } from '../identity/headerTemplates.js';
import type { Route } from './route.js';

/** What a request's host and path select. */
export type RouteSelection =
  | { type: 'route'; route: Route }
  /** No route serves this host and path: a 404, never the first upstream. */
  | { type: 'none' }
  /**
   * The path's readings (see pathReadings) fall under different routes: an upstream could serve
   * it as another route's resource than the one whose policy would be checked. Refused (400).
   */
  | { type: 'ambiguous' };

function routePolicy(r: RouteConfig, global: AuthorizationPolicy): AuthorizationPolicy | undefined {
  const adds =
    r.allowedEmailDomains.length + r.allowedUsers.length + r.allowedGroups.length + r.allowedRoles.length;
  if (adds === 0 && r.rules.length === 0) return undefined;
  const policy: AuthorizationPolicy = {
    allowedEmailDomains: r.allowedEmailDomains,
    allowedUsers: r.allowedUsers,
    allowedGroups: r.allowedGroups,
    allowedRoles: r.allowedRoles,
    rules: r.rules,
    // How identities are matched is the provider's matter, one setting for every route.
    allowUnverifiedEmail: global.allowUnverifiedEmail,
    matchUsersBy: global.matchUsersBy,
    requireHostedDomain: global.requireHostedDomain,
  };
  return policy;
}

function compileRoute(r: RouteConfig, index: number, cfg: GatehouseConfig): Route {
  const headers = { ...cfg.headers, ...definedOnly(r.headers) };
  // The loader has parsed both sets (each problem named by its own key); merged they parse too.
  headers.templates = { ...cfg.headers.templates, ...(r.headers.templates ?? {}) };
  return {
    id: r.id ?? derivedRouteId(r),
    index,
    host: r.host,
    pathPrefix: trimmedPrefix(r.pathPrefix),
    upstream: r.upstream,
    stripPathPrefix: r.stripPathPrefix,
    policy: routePolicy(r, cfg.authorization),
    skipAuth: r.skipAuth,
    methodsWithoutAuth: new Set(r.methodsWithoutAuth),
    headers,
    templates: compileHeaderTemplates(
      headers.templates,
      cfg.routes ? `routes[${index}].headers.templates` : 'headers.templates',
      cfg.headers.maxTemplateValueBytes,
    ),
    websocket: r.websocket,
    upstreamConnections: r.upstreamConnections,
    upstreamTimeoutSeconds: r.upstreamTimeoutSeconds,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The routes of a configuration, in order, with the lookup the engine runs on every request:
 * candidates by host name first (a map for the configured names, so 50 hosts cost one lookup),
 * then the first whose pathPrefix covers the path. Hosts are the client's: no cache keyed by them.
 */
export class RouteTable {
  readonly routes: readonly Route[];
  /** Whether `routes` is configured (false: the one-route case of `upstream`). */
  readonly explicit: boolean;
  private readonly patterns: ReadonlyArray<HostPattern | undefined>;
  /** Per configured exact host name: the routes that can match it, in order. */
  private readonly byName = new Map<string, Route[]>();
  /** The routes that can match a name configured nowhere exactly (wildcards, any host). */
  private readonly generic: Route[];

  constructor(cfg: GatehouseConfig) {
    this.explicit = cfg.routes !== undefined;
    const configured: RouteConfig[] = cfg.routes ?? [
      {
        id: DEFAULT_ROUTE_ID,
        pathPrefix: '/',
        upstream: cfg.upstream,
        stripPathPrefix: false,
        allowedEmailDomains: [],
        allowedUsers: [],
        allowedGroups: [],
        allowedRoles: [],
        rules: [],
        skipAuth: [],
        methodsWithoutAuth: [],
        headers: {},
        websocket: true,
        upstreamConnections: 256,
        upstreamTimeoutSeconds: 60,
      },
    ];
    this.routes = configured.map((r, i) => compileRoute(r, i, cfg));
    this.patterns = this.routes.map((r) => (r.host === undefined ? undefined : hostPattern(r.host)));
    this.generic = this.routes.filter((_, i) => this.patterns[i]?.wildcard !== false);
    for (const p of this.patterns) {
      if (p && !p.wildcard && !this.byName.has(p.name)) {
        this.byName.set(
          p.name,
          this.routes.filter((_, i) => {
            const q = this.patterns[i];
            return !q || q.wildcard ? hostMatches(q, p.name, q?.port || '') : q.name === p.name;
          }),
        );
      }
    }
  }

  /** The single route of a configuration without `routes`, or of a one-route list. */
  get only(): Route | undefined {
    return this.routes.length === 1 ? this.routes[0] : undefined;
  }

  /**
   * The route serving `host` (the request's Host, port included) and the path read as
   * `readings`. Every reading must select the same route, or the request is ambiguous.
   */
  select(host: string, readings: PathReadings): RouteSelection {
    const { name, port } = splitHost(host);
    const candidates = this.byName.get(name) ?? this.generic;
    let chosen: Route | undefined;
    for (let k = 0; k < readings.length; k++) {
      const path = readings[k]!;
      let hit: Route | undefined;
      for (const r of candidates) {
        if (!hostMatches(this.patterns[r.index], name, port)) continue;
        if (r.pathPrefix === '/' || pathUnder(path, r.pathPrefix)) {
          hit = r;
          break;
        }
      }
      if (k === 0) chosen = hit;
      else if (hit !== chosen) return { type: 'ambiguous' };
    }
    return chosen ? { type: 'route', route: chosen } : { type: 'none' };
  }

  /** The claims any route's templates read: the only ones a session keeps (SessionRecord.claims). */
  keptClaims(): string[] {
    return [...new Set(this.routes.flatMap((r) => r.templates.claimNames))];
  }

  /**
   * Whether a sign-in may be handed to `name:port` with a ticket (engine/handoff.ts): a route's
   * host pattern matches it, on the port the route names or — for a route host without a port —
   * on one of `ports` (engine/handoff.ts: the default ports and publicUrl's). A ticket carries the
   * session, so it must only travel to a host and port Gatehouse is configured to answer.
   */
  handsOffTo(name: string, port: string, ports: readonly string[]): boolean {
    for (const p of this.patterns) {
      // Never a wildcard: anyone may run a name under it (routeProblems refuses them outside cookieDomain).
      if (!p || p.wildcard || !hostMatches(p, name, port)) continue;
      if (p.port === '' && !ports.includes(port)) continue;
      return true;
    }
    return false;
  }

  /** The host patterns of the routes, for return URLs (`rd`): exact names and `.suffix` wildcards. */
  redirectHosts(): string[] {
    const out = new Set<string>();
    for (const p of this.patterns) if (p) out.add(p.name);
    return [...out];
  }
}
