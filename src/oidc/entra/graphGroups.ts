import { describeCause, GatehouseError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { readCapped } from '../distributedClaims.js';
import type { GroupSource } from '../openIdConnect.js';
import type { ProviderFetch } from '../providerFetch.js';

/**
 * Entra group overage: a user in more groups than fit in a token (200 in an ID token) gets no
 * `groups` claim but `_claim_names: {groups: …}` and `_claim_sources` (or `hasgroups: true`).
 * The URL in `_claim_sources` is the token's to name, so it is never asked (it would be handed
 * the user's access token); the groups are read from Microsoft Graph at the configured
 * `provider.entra.graphUrl`: `GET /v1.0/me/transitiveMemberOf` (nested groups included) with the
 * user's access token, which Entra issues for Graph when only OpenID scopes are requested.
 *
 * Bounded: at most MAX_PAGES pages and MAX_GROUPS groups (then the list is cut and logged), each
 * page read up to MAX_PAGE_BYTES, one provider timeout per page, every call under the provider's
 * semaphore; `@odata.nextLink` is followed only on Graph's own origin, redirects never.
 */

export const MAX_PAGES = 10;
export const MAX_GROUPS = 1000;
const MAX_PAGE_BYTES = 2 * 1024 * 1024;

/** Why Graph could not be read; `reason` is safe to log and show (never a token or a URL query). */
export class GraphError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'GraphError';
  }
}

export interface GraphGroupsOptions {
  /** `provider.entra.graphUrl` (no trailing slash needed). */
  graphUrl: string;
  /** `provider.entra.groupNames`: what a group becomes. */
  groupNames: 'id' | 'displayName';
  /** `provider.groupsClaim`: where the groups are put. */
  groupsClaim: string;
  timeoutMs: number;
  run: <T>(fn: () => Promise<T>) => Promise<T>;
  logger: Logger;
  /** The provider's transport (providerFetch.ts: trusts `provider.caFile`). */
  fetch: ProviderFetch;
}

/** Does this token stand for groups it does not carry (overage)? */
export function hasGroupOverage(claims: Record<string, unknown>, groupsClaim: string): boolean {
  if (claims[groupsClaim] !== undefined) return false;
  const names = claims._claim_names;
  const named = typeof names === 'object' && names !== null && Object.hasOwn(names, 'groups');
  return named || claims.hasgroups === true || claims.hasgroups === 'true';
}

interface GraphPage {
  value?: unknown;
  '@odata.nextLink'?: unknown;
}

export class GraphGroups implements GroupSource {
  private readonly first: URL;

  constructor(private readonly o: GraphGroupsOptions) {
    const base = o.graphUrl.replace(/\/+$/, '');
    this.first = new URL(`${base}/v1.0/me/transitiveMemberOf?$select=id,displayName`);
  }

  async resolve(
    claims: Record<string, unknown>,
    accessToken: string,
    phase: 'login' | 'refresh',
  ): Promise<Record<string, unknown>> {
    if (!hasGroupOverage(claims, this.o.groupsClaim)) return claims;
    let groups: string[];
    try {
      groups = await this.read(accessToken);
    } catch (err) {
      const reason = err instanceof GraphError ? err.reason : `could not be read: ${describeCause(err)}`;
      this.o.logger.warn(
        { graph: this.first.origin, reason, phase },
        phase === 'login'
          ? `group overage: Microsoft Graph ${reason}; the sign-in fails (the user's groups are unknown)`
          : `group overage: Microsoft Graph ${reason}; the session keeps its previous groups`,
      );
      throw new GatehouseError(
        'provider_error',
        502,
        `Your group memberships could not be read from Microsoft Graph (${reason}), so the sign-in cannot be completed. Please try again in a moment.`,
        { message: `Microsoft Graph ${reason}`, cause: err },
      );
    }
    const { _claim_names: _n, _claim_sources: _s, ...rest } = claims;
    return { ...rest, [this.o.groupsClaim]: groups };
  }

  /** Every page of the user's transitive memberships, within the bounds. */
  private async read(accessToken: string): Promise<string[]> {
    const groups: string[] = [];
    let next: URL | undefined = this.first;
    let pages = 0;
    while (next) {
      if (pages === MAX_PAGES || groups.length >= MAX_GROUPS) {
        this.o.logger.warn(
          {
            graph: this.first.origin,
            pages,
            groups: groups.length,
            maxPages: MAX_PAGES,
            maxGroups: MAX_GROUPS,
          },
          `group overage: the user is in more groups than Gatehouse reads (${MAX_GROUPS} groups or ${MAX_PAGES} pages); the list is cut there — rules on the missing groups deny`,
        );
        return groups.slice(0, MAX_GROUPS);
      }
      const page = await this.page(next, accessToken);
      pages++;
      for (const item of Array.isArray(page.value) ? page.value : []) {
        const name = this.nameOf(item);
        if (name !== undefined) groups.push(name);
      }
      next = this.nextLink(page['@odata.nextLink']);
    }
    return groups.length > MAX_GROUPS ? groups.slice(0, MAX_GROUPS) : groups;
  }

  /** A group's id or name; directory roles and administrative units (also "memberOf") are skipped. */
  private nameOf(item: unknown): string | undefined {
    if (typeof item !== 'object' || item === null) return undefined;
    const o = item as Record<string, unknown>;
    const type = o['@odata.type'];
    if (type !== undefined && type !== '#microsoft.graph.group') return undefined;
    const value = this.o.groupNames === 'displayName' ? (o.displayName ?? o.id) : o.id;
    return typeof value === 'string' && value !== '' ? value : undefined;
  }

  /** The next page, only on Graph's own origin: the link comes with the user's access token. */
  private nextLink(link: unknown): URL | undefined {
    if (link === undefined || link === null) return undefined;
    let url: URL;
    try {
      url = new URL(String(link));
    } catch {
      throw new GraphError('answered an @odata.nextLink that is not a URL');
    }
    if (url.origin !== this.first.origin) {
      throw new GraphError(
        `answered an @odata.nextLink on another origin (${url.origin}), which is not followed`,
      );
    }
    return url;
  }

  private page(url: URL, accessToken: string): Promise<GraphPage> {
    return this.o.run(async () => {
      let res: Response;
      try {
        res = await this.o.fetch(url, {
          headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
          redirect: 'manual',
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
      } catch (err) {
        throw new GraphError(`could not be reached: ${describeCause(err)}`);
      }
      if (!res.ok) {
        await res.body?.cancel();
        const hint =
          res.status === 401 || res.status === 403
            ? ' — Graph does not accept the access token: grant the app the delegated Microsoft Graph permission User.Read (least privileged for /me/transitiveMemberOf; GroupMember.Read.All for full group details), and request no scope of another API'
            : '';
        throw new GraphError(`answered HTTP ${res.status}${hint}`);
      }
      const body = await readCapped(res, MAX_PAGE_BYTES);
      if (body === undefined) throw new GraphError(`answered a page larger than ${MAX_PAGE_BYTES} bytes`);
      try {
        const json = JSON.parse(body.toString('utf8')) as unknown;
        if (typeof json !== 'object' || json === null || Array.isArray(json))
          throw new Error('not an object');
        return json as GraphPage;
      } catch {
        throw new GraphError('answered something that is not a JSON page');
      }
    });
  }
}
