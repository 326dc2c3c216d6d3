import type { EngineContext } from './context.js';
import { clearCookie, readCookie } from './cookies.js';
import type { Answer } from './decision.js';
import type { RequestFacts } from './facts.js';

export const SIGNED_OUT_PATH = '/oauth2/signed-out';
export const LOGOUT_PATH = '/oauth2/logout';

/**
 * Where the browser says a request comes from, compared with publicUrl's origin:
 * `same` (it says so), `cross` (another origin, or an opaque one) or `unknown` (it says nothing:
 * a non-browser client, or an old browser on a link with no referrer).
 *
 * `Sec-Fetch-Site` decides when present: the browser computes it over the whole redirect chain
 * and no page can set or suppress it. `same-site` is another origin (a sibling subdomain, or
 * another port), so it counts as cross. An `Origin` that names another origin always wins over
 * it (fail closed on a contradiction); `Origin: null` alone is cross (sandboxed frames and
 * data: URLs send it), but next to `Sec-Fetch-Site: same-origin` it is what a same-origin form
 * POST on a `Referrer-Policy: no-referrer` page sends, so the fetch metadata decides. Without
 * fetch metadata, a same-origin `Origin`, else the `Referer`'s origin, decides.
 */
export function requestProvenance(f: RequestFacts, ownOrigin: string): 'same' | 'cross' | 'unknown' {
  const site = f.secFetchSite?.trim().toLowerCase();
  const origin = f.origin?.trim();
  if (origin !== undefined && origin !== ownOrigin && (origin !== 'null' || !site)) return 'cross';
  if (site) return site === 'same-origin' || site === 'none' ? 'same' : 'cross';
  if (origin === ownOrigin) return 'same';
  if (f.referer !== undefined) return originOf(f.referer) === ownOrigin ? 'same' : 'cross';
  return 'unknown';
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * The script-free page with a POST button that any sign-out request we will not act on gets.
 * Browsers apply CSP `form-action` to the redirects that follow a submit too, so the provider's
 * logout origin (where the POST's answer sends the browser) is named as a form target.
 */
function confirmation(ctx: EngineContext, status: 200 | 403, message: string): Answer {
  const providerLogout = originOf(
    ctx.provider.endSessionUrl(undefined, new URL(SIGNED_OUT_PATH, ctx.cfg.publicUrl).href) ?? '',
  );
  return {
    type: 'page',
    status,
    title: 'Sign out?',
    message,
    form: {
      action: LOGOUT_PATH,
      button: 'Sign out',
      ...(providerLogout ? { redirectsTo: [providerLogout] } : {}),
    },
    setCookies: [],
  };
}

/**
 * /oauth2/logout, CSRF-safe: a POST (any method but GET/HEAD) logs out unless the browser says
 * it comes from another origin (then 403 and the confirmation page); a GET logs out only when
 * the browser says it is same-origin (the app's own "Sign out" link, a typed URL or bookmark),
 * any other GET gets the confirmation page and the session stays. SameSite=Lax on the session
 * cookie does not cover this: it still sends the cookie on cross-site top-level GETs and on
 * every same-site request (another port, a sibling subdomain).
 */
export async function logout(ctx: EngineContext, f: RequestFacts): Promise<Answer> {
  // Same-origin with publicUrl, or with the origin this request was sent to: a route host's own
  // Sign out button posts from that host (else every POST from it is refused, the confirmation
  // page's too); an internal Host rewrite must not refuse publicUrl's own pages either.
  const pub = new URL(ctx.cfg.publicUrl).origin;
  const here = originOf(`${f.secure ? 'https' : 'http'}://${f.host}`);
  let from = requestProvenance(f, pub);
  if (from !== 'same' && here && here !== pub && requestProvenance(f, here) === 'same') from = 'same';
  const safe = f.method === 'GET' || f.method === 'HEAD';
  if (safe ? from !== 'same' : from === 'cross') {
    ctx.logger.info(
      { reqId: f.requestId, method: f.method, secFetchSite: f.secFetchSite?.slice(0, 32), from },
      'logout not from this site: confirmation page, session kept',
    );
    return safe
      ? confirmation(ctx, 200, 'To end your session, select Sign out.')
      : confirmation(
          ctx,
          403,
          'This sign-out request came from another site, so your session was kept. To end it, select Sign out.',
        );
  }
  return endSession(ctx, f, safe ? 302 : 303);
}

/**
 * Deletes the record first, then the cookie; then RP-initiated logout at the IdP when it has an
 * end_session_endpoint (so the user is not silently signed back in), else our signed-out page.
 */
async function endSession(ctx: EngineContext, f: RequestFacts, status: 302 | 303): Promise<Answer> {
  const jar = ctx.jar;
  const key = ctx.sessions.codec.open(readCookie(f.cookieHeader, jar.session));
  let idToken: string | undefined;
  if (key) {
    const rec = await ctx.sessions.store.get(key);
    if (rec) {
      try {
        idToken = ctx.sessions.tokens(rec).idToken;
      } catch {
        // unreadable tokens (rotated secret): log out without the hint
      }
      ctx.logger.info({ reqId: f.requestId, user: rec.identity.user, session: key.slice(0, 12) }, 'logout');
    }
    await ctx.sessions.store.delete(key);
  }
  const signedOut = new URL(SIGNED_OUT_PATH, ctx.cfg.publicUrl).href;
  const location = ctx.provider.endSessionUrl(idToken, signedOut) ?? SIGNED_OUT_PATH;
  return { type: 'redirect', location, status, setCookies: [clearCookie(jar, jar.session)] };
}
