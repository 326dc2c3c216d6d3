// Microsoft Graph, as much of it as Entra group overage sends a relying party to:
// GET /graph/v1.0/me/transitiveMemberOf — the signed-in user's groups (nested included), paged
// with @odata.nextLink, behind the access token this IdP issued. Counted as stats.requests.graph.

import { effectiveGroups } from './claims.js';
import { type Handler, oauthError } from './context.js';
import { answersDown } from './endpointFaults.js';
import { entraGroupId } from './entra.js';
import { sendJson } from './http.js';
import { authenticateBearer } from './userinfo.js';

export const GRAPH_MEMBER_OF_PATH = '/graph/v1.0/me/transitiveMemberOf';
/** Graph's default page size for directory object collections. */
export const GRAPH_PAGE_SIZE = 100;

/** What Graph lists: the user's groups, then one directory role (which a group reader must skip). */
function memberships(groups: readonly string[]): Array<Record<string, unknown>> {
  return [
    ...groups.map((name) => ({
      '@odata.type': '#microsoft.graph.group',
      id: entraGroupId(name),
      displayName: name,
    })),
    {
      '@odata.type': '#microsoft.graph.directoryRole',
      id: entraGroupId('role:Directory Readers'),
      displayName: 'Directory Readers',
    },
  ];
}

export const handleGraphMemberOf: Handler = async (ctx, req, res, query) => {
  if (answersDown(ctx, res, 'graph-5xx', 'Microsoft Graph')) return;
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const all = memberships(effectiveGroups(ctx, auth.user, auth.grant.viaRefresh));
  const skip = Number(query.get('$skiptoken') ?? '0');
  if (!Number.isInteger(skip) || skip < 0) {
    oauthError(ctx, res, 400, 'invalid_request', '$skiptoken is not valid');
    return;
  }
  const page = all.slice(skip, skip + GRAPH_PAGE_SIZE);
  const body: Record<string, unknown> = {
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id,displayName)',
    value: page,
  };
  if (skip + GRAPH_PAGE_SIZE < all.length) {
    const next = new URL(`${ctx.issuer}${GRAPH_MEMBER_OF_PATH}`);
    const select = query.get('$select');
    if (select !== null) next.searchParams.set('$select', select);
    next.searchParams.set('$skiptoken', String(skip + GRAPH_PAGE_SIZE));
    body['@odata.nextLink'] = next.href;
  }
  sendJson(res, 200, body);
};
