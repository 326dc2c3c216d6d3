import type { EngineContext } from './context.js';
import type { CredentialLoader, Principal, Refused, SessionRef } from './credentials/credentialLoader.js';
import type { Answer, ErrorDecision } from './decision.js';
import { isNavigation, type RequestFacts } from './facts.js';
import { absoluteUrl, needsHandoff, startHandoff } from './handoff.js';
import { beginLogin } from './login.js';
import { endExpired, reauthorizeExpired, silentUpgrade, wantsSilentUpgrade } from './silentUpgrade.js';

/**
 * Runs the credential chain (see credentials/credentialChain.ts): the first loader that finds
 * its credential decides; its refusal becomes the answer here, so every loader's refusals are
 * answered by the same rules.
 */
export async function authenticate(
  ctx: EngineContext,
  chain: readonly CredentialLoader[],
  f: RequestFacts,
): Promise<Principal | Answer> {
  for (const loader of chain) {
    const r = await loader.load(f);
    if (r.kind === 'none') continue;
    if (r.kind === 'authenticated') {
      return wantsSilentUpgrade(ctx, f, r) ? ((await silentUpgrade(ctx, f, r)) ?? r) : r;
    }
    if (r.kind === 'unavailable') {
      if (loader.signsInByRedirect) return unavailable(r.retryAfterSec);
      return { ...unavailable(r.retryAfterSec), reason: r.reason ?? 'Please retry shortly.', bearer: {} };
    }
    if (r.code === 'invalid_token') return invalidToken(r.description);
    if (r.expired) return expiredSession(ctx, f, r.expired, loader.signsInByRedirect);
    return unauthenticated(ctx, f, r.setCookies, r.code, loader.signsInByRedirect);
  }
  // No credential at all: an anonymous browser signs in; a program is told every scheme it may use.
  const d = await unauthenticated(ctx, f, [], 'no_session', true);
  if (d.type === 'error' && chain.some((l) => l.offersScheme?.(f) === 'Bearer')) d.offersBearer = true;
  return d;
}

export function isAnswer(a: Principal | Answer): a is Answer {
  return 'type' in a;
}

function unavailable(retryAfterSec: number): ErrorDecision {
  return {
    type: 'error',
    status: 503,
    code: 'provider_unavailable',
    reason:
      'The sign-in service is temporarily unavailable, so your session cannot be renewed. Please retry shortly.',
    setCookies: [],
    retryAfterSec: Math.max(1, retryAfterSec),
  };
}

/** RFC 6750 §3.1: a bearer token that is bad, expired, revoked or for another API. JSON, never a redirect, never a cookie. */
function invalidToken(description: string | undefined): Answer {
  const d = description ?? 'the token is not valid';
  return {
    type: 'error',
    status: 401,
    code: 'invalid_token',
    reason: `The access token is not accepted: ${d}.`,
    setCookies: [],
    bearer: { error: 'invalid_token', description: d },
  };
}

/**
 * A session whose access token expired without a refresh token: a navigation first tries one
 * silent re-authorization (engine/silentUpgrade.ts); everything else, or a navigation that does
 * not get to try, is answered as any expired session — but an API call keeps record and cookie,
 * so that the tab's next navigation still gets its silent attempt (it keeps getting 401 JSON,
 * never a redirect).
 */
async function expiredSession(
  ctx: EngineContext,
  f: RequestFacts,
  session: SessionRef,
  signsInByRedirect: boolean,
): Promise<Answer> {
  if (!signsInByRedirect || !isNavigation(f)) {
    return unauthenticated(ctx, f, [], 'session_expired', signsInByRedirect);
  }
  if (!needsHandoff(ctx, f.host)) {
    const silent = await reauthorizeExpired(ctx, f, session, returnHere(ctx, f));
    if (silent) return silent;
  }
  return unauthenticated(ctx, f, await endExpired(ctx, session), 'session_expired', true);
}

/** Back to this very URL: on another host than publicUrl's, that takes the absolute URL. */
function returnHere(ctx: EngineContext, f: RequestFacts): string {
  return ctx.routes.explicit && f.url.startsWith('/') && f.host ? absoluteUrl(f) : f.url;
}

/**
 * Not logged in: navigations go to the IdP (when the credential is one a browser signs in for),
 * everything else gets 401 JSON with a challenge.
 */
async function unauthenticated(
  ctx: EngineContext,
  f: RequestFacts,
  setCookies: string[],
  code: 'no_session' | Exclude<Refused['code'], 'invalid_token'>,
  signsInByRedirect: boolean,
): Promise<Answer> {
  if (signsInByRedirect && isNavigation(f)) {
    // A route host the session cookie does not reach signs in through publicUrl's host (handoff.ts).
    if (needsHandoff(ctx, f.host)) return startHandoff(ctx, f, setCookies);
    const d = await beginLogin(ctx, f, returnHere(ctx, f), false);
    return { ...d, setCookies: [...setCookies, ...d.setCookies] };
  }
  const reason =
    code === 'session_expired'
      ? 'Your session has expired. Sign in again.'
      : code === 'bad_cookie'
        ? 'The session cookie is not valid. Sign in again.'
        : 'Authentication required.';
  return {
    type: 'error',
    status: 401,
    code,
    reason,
    setCookies,
    challenge: true,
    signInUrl: `/oauth2/start?rd=${encodeURIComponent(f.url)}`,
  };
}
