// GitHub's REST identity endpoints (github profile). GitHub is OAuth 2.0 only, so a gateway
// learns who logged in from these instead of an ID token.
import { createHash } from 'node:crypto';
import { effectiveGroups } from './claims.js';
import type { Handler, IdpContext } from './context.js';
import { sendJson } from './http.js';
import type { DevUser } from './types.js';
import { authenticateBearer, userinfoDown } from './userinfo.js';

/**
 * Which GitHub flavour the profiles ask for: `oauth-app` (github: tokens never expire, no refresh
 * token) or `app` (github-app: GitHub App user tokens, which expire and come with a rotating
 * refresh token), or undefined for an OpenID provider.
 */
export function githubStyle(ctx: IdpContext): 'oauth-app' | 'app' | undefined {
  if (ctx.profiles.has('github-app')) return 'app';
  if (ctx.profiles.has('github')) return 'oauth-app';
  return undefined;
}

/** GitHub ids are numbers; derive a stable one from the sub. */
export function githubId(user: DevUser): number {
  return createHash('sha256').update(user.sub).digest().readUInt32BE(0) % 100_000_000;
}

export const handleGithubUser: Handler = async (ctx, req, res) => {
  if (userinfoDown(ctx, res)) return;
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const u = auth.user;
  sendJson(res, 200, { login: u.username, id: githubId(u), type: 'User', name: u.name, email: u.email });
};

export const handleGithubEmails: Handler = async (ctx, req, res) => {
  const auth = authenticateBearer(ctx, req, res);
  if (auth === undefined) return;
  const u = auth.user;
  // GitHub lists the noreply address too; a gateway must pick the primary verified one.
  sendJson(res, 200, [
    {
      email: `${githubId(u)}+${u.username}@users.noreply.github.com`,
      primary: false,
      verified: true,
      visibility: null,
    },
    { email: u.email, primary: true, verified: u.email_verified ?? true, visibility: 'private' },
  ]);
};

/** The organisation every dev user with at least one group belongs to, under github profiles. */
export const GITHUB_ORG = 'example-org';

/** GitHub's page size rules: `per_page` (default 30, at most 100) and 1-based `page`. */
function paginate<T>(
  ctx: IdpContext,
  query: URLSearchParams,
  path: string,
  items: T[],
): { page: T[]; link: string | undefined } {
  const perPage = Math.min(100, Math.max(1, Number(query.get('per_page')) || 30));
  const page = Math.max(1, Number(query.get('page')) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const at = (p: number) => `<${ctx.issuer}${path}?per_page=${perPage}&page=${p}>`;
  const rels: string[] = [];
  if (page < last) rels.push(`${at(page + 1)}; rel="next"`, `${at(last)}; rel="last"`);
  if (page > 1) rels.push(`${at(1)}; rel="first"`, `${at(page - 1)}; rel="prev"`);
  return {
    page: items.slice((page - 1) * perPage, page * perPage),
    link: rels.length ? rels.join(', ') : undefined,
  };
}

/**
 * A paginated organisation-scoped listing: needs a bearer token with `read:org` (403 without,
 * as at GitHub); `items` builds the whole list from the user's effective groups.
 */
function orgListing(items: (groups: string[]) => unknown[]): Handler {
  return async (ctx, req, res, query) => {
    const auth = authenticateBearer(ctx, req, res);
    if (auth === undefined) return;
    if (!auth.grant.scope.split(/[ ,]/).includes('read:org')) {
      sendJson(res, 403, { message: 'Resource not accessible: the token lacks the read:org scope' });
      return;
    }
    const all = items(effectiveGroups(ctx, auth.user, auth.grant.viaRefresh));
    const { page, link } = paginate(ctx, query, new URL(req.url ?? '/', ctx.issuer).pathname, all);
    sendJson(res, 200, page, link ? { link } : {});
  };
}

/** GET /user/orgs: `[{login, id}]` — the one organisation, for users with any group. */
export const handleGithubOrgs = orgListing((groups) =>
  groups.length ? [{ login: GITHUB_ORG, id: 1000 }] : [],
);

/** GET /user/teams: one team per group, `[{slug, name, organization: {login}}]`. */
export const handleGithubTeams = orgListing((groups) =>
  groups.map((g, i) => ({
    id: 2000 + i,
    slug: g
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, ''),
    name: g,
    organization: { login: GITHUB_ORG, id: 1000 },
  })),
);
