import type { EngineContext } from '../context.js';
import type { RequestFacts } from '../facts.js';
import { BearerTokenLoader } from './bearerToken.js';
import { type CredentialLoader, type CredentialResult, NO_CREDENTIAL } from './credentialLoader.js';
import { SessionCookieLoader } from './sessionCookie.js';

/**
 * The credential loaders the engine authenticates a request with, in this order; the first one
 * that finds its credential decides (see CredentialLoader for the contract each one keeps). When
 * none finds one, the request is anonymous: a navigation is sent to sign in, anything else gets
 * a 401 with a challenge.
 *
 * 1. The bearer token (BearerTokenLoader; only when `bearer.accept` is not empty, and only on
 *    `bearer.pathPrefixes`): `Authorization: Bearer …` checked against the provider's keys or
 *    its introspection endpoint. It goes first, so an explicit credential is never overridden
 *    by the session cookie a browser sends along anyway, and a bad token is refused (401, never
 *    a login redirect) instead of being replaced by the cookie's identity.
 *    `bearer.preferOverCookie: false` puts a *live* session first instead (LiveSessionFirst):
 *    the token then decides whenever there is no live session — still never a redirect.
 * 2. The session cookie (SessionCookieLoader): the session store, refresh when due.
 */
export function defaultCredentialChain(ctx: EngineContext): CredentialLoader[] {
  const cookie = new SessionCookieLoader(ctx);
  if (ctx.cfg.bearer.accept.length === 0) return [cookie];
  const bearer = new BearerTokenLoader(ctx);
  if (ctx.cfg.bearer.preferOverCookie) return [bearer, cookie];
  return [new LiveSessionFirst(cookie, bearer), bearer, cookie];
}

/**
 * For a request carrying a bearer token (where tokens are accepted): the session, when the cookie
 * holds a live one, else nothing — so the bearer loader decides, and a dead cookie neither
 * redirects nor answers with a cookie. A request without a token passes by (the cookie loader
 * after the bearer one decides it as usual).
 */
class LiveSessionFirst implements CredentialLoader {
  readonly signsInByRedirect = false;

  constructor(
    private readonly cookie: SessionCookieLoader,
    private readonly bearer: BearerTokenLoader,
  ) {}

  async load(f: RequestFacts): Promise<CredentialResult> {
    if (this.bearer.tokenOf(f) === undefined) return NO_CREDENTIAL;
    const r = await this.cookie.load(f);
    return r.kind === 'authenticated' ? r : NO_CREDENTIAL;
  }
}
