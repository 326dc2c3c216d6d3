import { GatehouseError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { ProviderFetch } from './providerFetch.js';

/**
 * GitHub is OAuth 2.0 only (LESSONS.md, "Provider quirks"): no discovery, no ID token, no
 * `openid` scope; who logged in comes from its REST API. This module holds everything
 * GitHub-specific; the provider drives the code and refresh grants through openid-client as for
 * any other server, with the metadata below instead of discovery.
 */

export interface GithubEndpoints {
  authorization: string;
  token: string;
  /** REST API base, without a trailing slash. */
  api: string;
}

/**
 * `https://github.com` → api.github.com; any other issuer is GitHub Enterprise Server, whose
 * OAuth endpoints live at the same paths and whose API is under `/api/v3`.
 */
export function githubEndpoints(issuer: string): GithubEndpoints {
  const base = issuer.replace(/\/+$/, '');
  const api = new URL(base).hostname === 'github.com' ? 'https://api.github.com' : `${base}/api/v3`;
  return {
    authorization: `${base}/login/oauth/authorize`,
    token: `${base}/login/oauth/access_token`,
    api,
  };
}

/** Who the user is, their verified primary email, and their organisations and teams. */
export const GITHUB_DEFAULT_SCOPES = ['read:user', 'user:email', 'read:org'];
const OIDC_ONLY_SCOPES = new Set(['openid', 'email', 'profile', 'offline_access']);

/** The configured scopes minus OpenID-only ones; GitHub's defaults when nothing is left. */
export function githubScopes(configured: string[]): string[] {
  const left = configured.filter((s) => !OIDC_ONLY_SCOPES.has(s));
  return left.length ? left : [...GITHUB_DEFAULT_SCOPES];
}

/**
 * GitHub answers token errors with HTTP 200 and an error body, and calls a dead code or refresh
 * token `bad_verification_code` / `bad_refresh_token`. This turns such an answer into what
 * RFC 6749 §5.2 says it is — a 400 with `invalid_grant` (the original code kept in the
 * description) — so the code exchange fails cleanly and a dead refresh token ends the session
 * instead of looking like a malformed success.
 */
export function githubTokenFetch(
  transport: ProviderFetch = fetch,
): (url: string, init: RequestInit) => Promise<Response> {
  return async (url, init) => normalizeGithubTokenAnswer(await transport(url, init));
}

async function normalizeGithubTokenAnswer(res: Response): Promise<Response> {
  if (res.status !== 200) return res;
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = (body as { error?: unknown } | undefined)?.error;
  if (typeof error !== 'string') {
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  }
  const description = (body as { error_description?: unknown }).error_description;
  const dead = error === 'bad_verification_code' || error === 'bad_refresh_token';
  return new Response(
    JSON.stringify({
      error: dead ? 'invalid_grant' : error,
      error_description: `${error}${typeof description === 'string' ? `: ${description}` : ''}`,
    }),
    { status: 400, headers: { 'content-type': 'application/json' } },
  );
}

/** Pages of a list followed at most (100 entries each): 1000 teams is plenty, and bounded. */
const MAX_PAGES = 10;

interface GithubUser {
  id: number;
  login: string;
  name?: string | null;
  email?: string | null;
}

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/**
 * Reads the identity behind a GitHub access token and shapes it as OIDC-style claims, so the
 * usual claim mapping, authorization and headers apply unchanged:
 * `sub` (the numeric user id — a login can be renamed), `preferred_username` (login), `name`,
 * `email` + `email_verified` (the primary address from /user/emails, never the noreply one) and
 * `groups`: organisation logins and `org/team-slug` for every team (with `read:org`).
 */
export class GithubIdentity {
  /** Last warning time per endpoint: a missing scope is logged at most once a minute. */
  private readonly warnedAt = new Map<string, number>();

  constructor(
    private readonly api: string,
    /** The GitHub instance's host (github.com, or the GHES host): the subject's namespace. */
    private readonly host: string,
    private readonly opts: {
      timeoutMs: number;
      run: <T>(fn: () => Promise<T>) => Promise<T>;
      logger: Logger;
      /** The provider's transport (providerFetch.ts: a GitHub Enterprise Server behind an internal CA). */
      fetch?: ProviderFetch | undefined;
    },
  ) {}

  async claims(accessToken: string): Promise<Record<string, unknown>> {
    const [user, emails, orgs, teams] = await Promise.all([
      this.get(accessToken, '/user') as Promise<GithubUser>,
      this.optionalList<GithubEmail>(accessToken, '/user/emails', 'user:email'),
      this.optionalList<{ login: string }>(accessToken, '/user/orgs', 'read:org'),
      this.optionalList<{ slug: string; organization: { login: string } }>(
        accessToken,
        '/user/teams',
        'read:org',
      ),
    ]);
    if (typeof user?.id !== 'number' || typeof user.login !== 'string') {
      throw new Error('GitHub /user did not say who the user is (no id or login)');
    }
    const claims: Record<string, unknown> = {
      // `<host>/<id>`: stable across renames, distinct per GitHub instance (github.com and a GHES
      // number their users independently), and never equal to a login (which has no "/"), so an
      // `allowedUsers` entry meant as a subject cannot be matched by registering that login.
      sub: `${this.host}/${user.id}`,
      preferred_username: user.login,
      name: user.name ?? user.login,
    };
    const primary = emails?.find((e) => e.primary);
    if (primary) {
      claims.email = primary.email;
      claims.email_verified = primary.verified === true;
    } else if (typeof user.email === 'string' && user.email) {
      // Without user:email only the public address is known; GitHub lets only a verified
      // address be public.
      claims.email = user.email;
      claims.email_verified = true;
    }
    if (orgs || teams) {
      claims.groups = [
        ...(orgs ?? []).flatMap((o) => (typeof o?.login === 'string' ? [o.login] : [])),
        ...(teams ?? []).flatMap((t) =>
          typeof t?.organization?.login === 'string' && typeof t.slug === 'string'
            ? [`${t.organization.login}/${t.slug}`]
            : [],
        ),
      ];
    }
    return claims;
  }

  private async get(accessToken: string, path: string): Promise<unknown> {
    return (await this.fetch(accessToken, `${this.api}${path}`)).body;
  }

  /** A list that needs a scope the token may lack: undefined (warned once) on 403/404. */
  private async optionalList<T>(accessToken: string, path: string, scope: string): Promise<T[] | undefined> {
    const out: T[] = [];
    let url: string | undefined = `${this.api}${path}?per_page=100`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      let r: { body: unknown; next: string | undefined };
      try {
        r = await this.fetch(accessToken, url);
      } catch (err) {
        if (err instanceof GithubApiRefusal && (err.status === 403 || err.status === 404)) {
          const last = this.warnedAt.get(path) ?? 0;
          if (Date.now() - last > 60_000) {
            this.warnedAt.set(path, Date.now()); // bounded: one entry per endpoint
            this.opts.logger.warn(
              { path, status: err.status },
              `GitHub refused ${path}: grant the ${scope} scope (provider.scopes) to use it`,
            );
          }
          return undefined;
        }
        throw err;
      }
      if (!Array.isArray(r.body)) throw new Error(`GitHub ${path} did not answer a list`);
      out.push(...(r.body as T[]));
      url = r.next;
    }
    if (url) {
      this.opts.logger.warn(
        { path, entries: out.length },
        `GitHub ${path}: more than ${MAX_PAGES} pages; only the first ${out.length} entries are used`,
      );
    }
    return out;
  }

  private async fetch(
    accessToken: string,
    url: string,
  ): Promise<{ body: unknown; next: string | undefined }> {
    let res: Response;
    try {
      res = await this.opts.run(() =>
        (this.opts.fetch ?? fetch)(url, {
          headers: {
            authorization: `Bearer ${accessToken}`,
            accept: 'application/vnd.github+json',
            'x-github-api-version': '2022-11-28',
            'user-agent': 'gatehouse',
          },
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        }),
      );
    } catch (err) {
      throw new GatehouseError(
        'provider_unavailable',
        502,
        'GitHub could not be reached to read who you are. Please try again in a moment.',
        { message: `GitHub API ${new URL(url).pathname} unreachable`, cause: err },
      );
    }
    // GitHub signals rate limits (primary and secondary) with 403 as well as 429: a moment of
    // unavailability, never "this user has no teams".
    const rateLimited =
      res.status === 429 ||
      (res.status === 403 &&
        (res.headers.get('x-ratelimit-remaining') === '0' || res.headers.has('retry-after')));
    if (res.status >= 500 || rateLimited) {
      await res.body?.cancel();
      throw new GatehouseError(
        'provider_unavailable',
        502,
        'GitHub failed while reading who you are. Please try again in a moment.',
        {
          message: `GitHub API ${new URL(url).pathname} answered ${res.status}${rateLimited ? ' (rate limited)' : ''}`,
        },
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new GithubApiRefusal(new URL(url).pathname, res.status);
    }
    return { body: await res.json(), next: nextLink(res.headers.get('link'), this.api) };
  }
}

/** A 4xx from the GitHub API (token refused, scope missing). */
export class GithubApiRefusal extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
  ) {
    super(`GitHub API ${path} refused the access token (HTTP ${status})`);
    this.name = 'GithubApiRefusal';
  }
}

/** `rel="next"` of a Link header, only when it stays on the API's origin (no request elsewhere). */
export function nextLink(link: string | null, api: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (!m) continue;
    try {
      const url = new URL(m[1]!);
      return url.origin === new URL(api).origin ? url.href : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
