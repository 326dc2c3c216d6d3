import { hostCovers, hostPattern } from '../authz/hostPattern.js';
import { pathUnder } from '../authz/pathPrefix.js';
import type { RouteConfig } from './schema.js';

/** The id of the route of a configuration without `routes` (the single `upstream`). */
export const DEFAULT_ROUTE_ID = 'default';

export function trimmedPrefix(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** The default id: host + pathPrefix (`grafana.example.com`, `example.com/admin`, `/api`). */
export function derivedRouteId(r: RouteConfig): string {
  const prefix = trimmedPrefix(r.pathPrefix);
  if (r.host) return prefix === '/' ? r.host : `${r.host}${prefix}`;
  return prefix === '/' ? DEFAULT_ROUTE_ID : prefix;
}

/** Why a `routes` list cannot be run as written: duplicate ids, routes an earlier one hides. */
export function routeProblems(routes: readonly RouteConfig[], cookieDomain?: string): string[] {
  const problems: string[] = [];
  routes.forEach((r, i) => {
    // A hand-off ticket to a name someone else runs under the wildcard would hand them the
    // session of whoever follows a crafted link (docs/routes.md): no tickets for wildcards, so a
    // wildcard route works only under the shared cookie, which trusts every name under it anyway.
    const suffix = r.host?.startsWith('*.') ? r.host.slice(1).replace(/:\d+$/, '') : undefined;
    if (suffix && !(cookieDomain && (suffix.endsWith(cookieDomain) || suffix === cookieDomain))) {
      problems.push(
        `routes[${i}].host: ${r.host} is a wildcard outside session.cookieDomain — sign-in reaches a host either through the shared cookie or through a one-time ticket, and a ticket must never go to a name someone else may run; set session.cookieDomain to a domain covering it (every name under it then receives the session cookie), or list the hosts one by one`,
      );
    }
  });
  const ids = new Map<string, number>();
  routes.forEach((r, i) => {
    const id = r.id ?? derivedRouteId(r);
    const seen = ids.get(id);
    if (seen !== undefined) {
      problems.push(
        `routes[${i}].id: "${id}" is already the id of routes[${seen}]${r.id ? '' : ' (derived from host + pathPrefix)'} — give one of them an id of its own`,
      );
    } else ids.set(id, i);
    const host = r.host === undefined ? undefined : hostPattern(r.host);
    const prefix = trimmedPrefix(r.pathPrefix);
    for (let j = 0; j < i; j++) {
      const e = routes[j]!;
      const eHost = e.host === undefined ? undefined : hostPattern(e.host);
      if (hostCovers(eHost, host) && pathUnder(prefix, trimmedPrefix(e.pathPrefix))) {
        const same = e.host === r.host && trimmedPrefix(e.pathPrefix).toLowerCase() === prefix.toLowerCase();
        problems.push(
          same
            ? `routes[${i}]: duplicate of routes[${j}] (same host and pathPrefix) — remove one`
            : `routes[${i}]: unreachable — routes[${j}] (host ${e.host ?? 'any'}, pathPrefix ${e.pathPrefix}) matches every request it would; routes are tried in order, so move the more specific route first`,
        );
        break;
      }
    }
    if (r.stripPathPrefix && prefix === '/') {
      problems.push(
        `routes[${i}].stripPathPrefix: the pathPrefix is / — there is nothing to strip; remove it`,
      );
    }
  });
  return problems;
}
