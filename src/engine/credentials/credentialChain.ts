import type { EngineContext } from '../context.js';
import type { CredentialLoader } from './credentialLoader.js';
import { SessionCookieLoader } from './sessionCookie.js';

/**
 * The credential loaders the engine authenticates a request with, in this order; the first one
 * that finds its credential decides (see CredentialLoader for the contract each one keeps). When
 * none finds one, the request is anonymous: a navigation is sent to sign in, anything else gets
 * a 401 with a challenge.
 *
 * 1. The bearer-token slot (not built yet: a later issue). A loader reading
 *    `Authorization: Bearer …` (facts.authorization) and checking the token against the
 *    provider's keys goes first, so an explicit credential is never overridden by the session
 *    cookie a browser sends along anyway, and a bad token is refused (401, never a login
 *    redirect) instead of being replaced by the cookie's identity.
 * 2. The session cookie (SessionCookieLoader): the session store, refresh when due.
 */
export function defaultCredentialChain(ctx: EngineContext): CredentialLoader[] {
  return [new SessionCookieLoader(ctx)];
}
