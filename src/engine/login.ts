import { classifyOidcError } from '../oidc/errors.js';
import { randomCodeVerifier } from '../oidc/pkce.js';
import type { SilentReason } from '../session/store.js';
import { randomToken } from '../util/crypto.js';
import { describeCause, GatehouseError } from '../util/errors.js';
import type { EngineContext } from './context.js';
import { clearCookie, readCookie, serializeCookie } from './cookies.js';
import type { Answer, ErrorDecision } from './decision.js';
import type { RequestFacts } from './facts.js';
import { needsHandoff, ticketRedirect } from './handoff.js';
import type { LoginCookieState } from './loginCookie.js';
import { loginRateLimited } from './loginLimits.js';
import { returnHosts } from './returnHosts.js';
import { safeReturnTo } from './returnTo.js';

/** The browser's signed login cookie; a valid one is also noted by the crowd watch. */
function loginCookieState(ctx: EngineContext, f: RequestFacts): LoginCookieState | undefined {
  const s = ctx.loginCookies.decode(readCookie(f.cookieHeader, ctx.jar.login));
  if (s) ctx.crowd.note(f.clientIp, s.browserId, ctx.cfg.server.trustedProxies.length > 0);
  return s;
}

function loginCookie(ctx: EngineContext, _f: RequestFacts, s: LoginCookieState): string {
  const jar = ctx.jar;
  return serializeCookie(jar, jar.login, ctx.loginCookies.encode(s), ctx.cfg.login.flowTtlSeconds);
}

export function signInUrl(returnTo: string): string {
  return `/oauth2/start?rd=${encodeURIComponent(returnTo)}&retry=1`;
}

/**
 * Starts a login flow: its own `state`, `nonce` and PKCE verifier, kept server-side (one per tab,
 * bounded per browser and in all), and a redirect to the IdP. `userInitiated` (a click on "sign in
 * again") resets the loop counter. Rate-limited per client before anything is stored.
 */
export async function beginLogin(
  ctx: EngineContext,
  f: RequestFacts,
  rd: string | null | undefined,
  userInitiated: boolean,
  opts: { silent?: SilentReason; bind?: string | undefined } = {},
): Promise<Answer> {
  const nowSec = Math.floor(ctx.clock.now() / 1000);
  const returnTo = safeReturnTo(rd, ctx.cfg.publicUrl, returnHosts(ctx));
  const limited = await loginRateLimited(ctx, f, signInUrl(returnTo));
  if (limited) return limited;
  let s = loginCookieState(ctx, f) ?? ctx.loginCookies.fresh(nowSec);
  if (userInitiated || nowSec - s.windowStartSec > ctx.cfg.login.attemptWindowSeconds) {
    s = { ...s, logins: 0, windowStartSec: nowSec };
  }
  if (s.logins >= ctx.cfg.login.maxAttempts) {
    ctx.logger.warn({ reqId: f.requestId, logins: s.logins }, 'sign-in loop stopped');
    return {
      type: 'page',
      status: 429,
      title: 'Sign-in keeps failing',
      message:
        'You signed in several times in a row but the session did not stick. This usually means your browser is not keeping the session cookie (blocked cookies, or an http/https mismatch). Check your cookie settings, then try again.',
      link: { href: signInUrl(returnTo), text: 'Try again' },
      setCookies: [],
    };
  }
  const state = randomToken(24);
  const nonce = randomToken(24);
  const codeVerifier = randomCodeVerifier();
  const silent = opts.silent;
  const location = await ctx.provider.authorizationUrl({
    state,
    nonce,
    codeVerifier,
    silent: silent !== undefined,
  });
  await ctx.sessions.store.putFlow(
    state,
    {
      browserId: s.browserId,
      codeVerifier,
      nonce,
      returnTo,
      createdAt: ctx.clock.now(),
      ...(silent ? { silent } : {}),
      ...(opts.bind ? { bind: opts.bind } : {}),
    },
    ctx.cfg.login.flowTtlSeconds * 1000,
    ctx.cfg.login.maxPendingFlows,
  );
  return { type: 'redirect', location, setCookies: [loginCookie(ctx, f, s)] };
}

function callbackError(
  status: number,
  reason: string,
  returnTo: string,
  code: 'callback_invalid' | 'state_mismatch' | 'provider_error' | 'provider_unavailable' | 'forbidden',
): ErrorDecision {
  return { type: 'error', status, code, reason, setCookies: [], signInUrl: signInUrl(returnTo) };
}

/**
 * The redirect back from the IdP. Every failure is an error page with a "sign in again" link —
 * never an automatic redirect, so a broken provider cannot trap the browser in a loop.
 *
 * Only a `state` naming a pending flow of *this* browser (login cookie) is an answer to a sign-in
 * we started. The flow is taken only when its browser matches, in one atomic step, so a callback
 * from another browser with a leaked state cannot burn the real user's flow; and the IdP's
 * `error`/`error_description` are shown (and logged) only for such a flow — a crafted link must
 * not put an attacker's text on our page.
 */
export async function completeLogin(ctx: EngineContext, f: RequestFacts, callbackUrl: URL): Promise<Answer> {
  const q = callbackUrl.searchParams;
  const state = q.get('state');
  const cookie = loginCookieState(ctx, f);
  const taken = state && cookie ? await ctx.sessions.store.takeFlow(state, cookie.browserId) : undefined;
  const flow = taken?.ok ? taken.flow : undefined;
  const returnTo = flow?.returnTo ?? '/';
  const idpError = q.get('error');
  if (idpError) {
    if (!flow) {
      const why = !cookie ? 'no_login_cookie' : !state ? 'no_state' : taken?.ok === false ? taken.reason : '';
      ctx.logger.warn(
        { reqId: f.requestId, reason: why },
        'sign-in error response without a pending flow of this browser ignored (its text is not shown)',
      );
      return callbackError(
        400,
        'This sign-in response was not recognised: it does not belong to a sign-in started in this browser.',
        returnTo,
        'callback_invalid',
      );
    }
    const desc = q.get('error_description');
    if (silentOf(flow)) return silentDeclined(ctx, f, idpError, returnTo, silentOf(flow)!);
    ctx.logger.warn(
      { reqId: f.requestId, error: idpError.slice(0, 100), error_description: desc?.slice(0, 200) },
      'identity provider returned an error',
    );
    const denied = idpError === 'access_denied';
    return callbackError(
      denied ? 403 : 400,
      `The identity provider did not sign you in (${idpError.slice(0, 100)}${desc ? `: ${desc.slice(0, 200)}` : ''}).`,
      returnTo,
      denied ? 'forbidden' : 'provider_error',
    );
  }
  if (!state || !q.get('code')) {
    return callbackError(
      400,
      'The sign-in response is incomplete (no state or code).',
      returnTo,
      'callback_invalid',
    );
  }
  if (!cookie || (taken?.ok === false && taken.reason === 'other_browser')) {
    return callbackError(
      400,
      'This sign-in was started in a different browser or the sign-in cookie is missing.',
      returnTo,
      'state_mismatch',
    );
  }
  if (!flow) {
    return callbackError(
      400,
      'This sign-in attempt has expired or was already completed.',
      returnTo,
      'state_mismatch',
    );
  }
  let result: Awaited<ReturnType<typeof ctx.provider.exchangeCode>>;
  try {
    result = await ctx.provider.exchangeCode(callbackUrl, {
      state,
      nonce: flow.nonce,
      codeVerifier: flow.codeVerifier,
    });
  } catch (err) {
    const failed = exchangeFailure(ctx, f, err, returnTo);
    return silentOf(flow) ? silentFailed(ctx, f, returnTo, silentOf(flow)!) : failed;
  }
  let identity: ReturnType<typeof ctx.sessions.identityFrom>;
  try {
    identity = ctx.sessions.identityFrom(result.claims ?? {});
  } catch (err) {
    ctx.logger.warn({ reqId: f.requestId, err: describeCause(err) }, 'login rejected: unusable identity');
    return callbackError(
      400,
      'The identity provider did not say who you are (no subject).',
      returnTo,
      'callback_invalid',
    );
  }
  const created = await ctx.sessions.create(result, identity);
  const jar = ctx.jar;
  if (silentOf(flow)) await replaceUpgradedSession(ctx, f, silentOf(flow)!);
  ctx.logger.info(
    { reqId: f.requestId, user: identity.user, session: created.key.slice(0, 12) },
    'login completed',
  );
  // Keep the browser id (other tabs may still be completing their own flows); count the login.
  const nowSec = Math.floor(ctx.clock.now() / 1000);
  const fresh = nowSec - cookie.windowStartSec > ctx.cfg.login.attemptWindowSeconds;
  const counted = fresh
    ? { browserId: cookie.browserId, logins: 1, windowStartSec: nowSec }
    : { ...cookie, logins: cookie.logins + 1 };
  const setCookies = [
    serializeCookie(jar, jar.session, created.cookieValue, ctx.cfg.session.maxAgeSeconds),
    loginCookie(ctx, f, counted),
  ];
  // Signed in for a route host this cookie does not reach: its own cookie, through a ticket.
  if (flow.bind && /^https?:/.test(returnTo) && needsHandoff(ctx, new URL(returnTo).host)) {
    return ticketRedirect(ctx, created.cookieValue, returnTo, flow.bind, setCookies);
  }
  return { type: 'redirect', location: returnTo, setCookies };
}

/**
 * A silent re-authorization the IdP answered with an error. Never an error page, never a loop:
 * - `upgrade`: the user goes back to where they were with the session they have (its record is
 *   already marked, so no second attempt);
 * - `expired`: that session cannot be served, so the normal interactive sign-in starts at once,
 *   back to the same URL (its flow is not silent: whatever it ends in is its own answer).
 */
async function silentDeclined(
  ctx: EngineContext,
  f: RequestFacts,
  idpError: string,
  returnTo: string,
  reason: SilentReason,
): Promise<Answer> {
  const declined = SILENT_DECLINED.has(idpError);
  ctx.metrics.silentReauth.inc({ result: declined ? 'declined' : 'error', reason });
  ctx.logger.info(
    { reqId: f.requestId, error: idpError.slice(0, 100), reason },
    reason === 'expired'
      ? 'silent re-authorization of an expired session declined by the identity provider; signing in normally'
      : 'silent re-authorization declined by the identity provider; the session is kept as it is',
  );
  return reason === 'expired' ? signInAfterExpired(ctx, f, returnTo) : backTo(returnTo);
}

async function silentFailed(
  ctx: EngineContext,
  f: RequestFacts,
  returnTo: string,
  reason: SilentReason,
): Promise<Answer> {
  ctx.metrics.silentReauth.inc({ result: 'error', reason });
  return reason === 'expired' ? signInAfterExpired(ctx, f, returnTo) : backTo(returnTo);
}

function backTo(returnTo: string): Answer {
  return { type: 'redirect', location: returnTo, setCookies: [] };
}

/** The expired session ends (record and cookie) and the interactive sign-in begins. */
async function signInAfterExpired(ctx: EngineContext, f: RequestFacts, returnTo: string): Promise<Answer> {
  await deleteSessionOf(ctx, f, 'deleting the expired session failed');
  const d = await beginLogin(ctx, f, returnTo, false);
  return { ...d, setCookies: [clearCookie(ctx.jar, ctx.jar.session), ...d.setCookies] };
}

/** Why a flow is silent; a flow stored before `silent` named its reason (`true`) was an upgrade. */
function silentOf(flow: { silent?: SilentReason | boolean }): SilentReason | undefined {
  return flow.silent === true ? 'upgrade' : flow.silent || undefined;
}

/** The answers of OpenID Connect Core §3.1.2.6 that mean "not without the user". */
const SILENT_DECLINED = new Set(['login_required', 'consent_required', 'interaction_required']);

/** The new session (with a fresh token, and a refresh token when the IdP sent one) replaces the old: its record goes. */
async function replaceUpgradedSession(
  ctx: EngineContext,
  f: RequestFacts,
  reason: SilentReason,
): Promise<void> {
  ctx.metrics.silentReauth.inc({ result: 'ok', reason });
  await deleteSessionOf(ctx, f, 'deleting the replaced session failed');
}

/** Deletes the session this request's cookie names, if any. */
async function deleteSessionOf(ctx: EngineContext, f: RequestFacts, failed: string): Promise<void> {
  const oldKey = ctx.sessions.codec.open(readCookie(f.cookieHeader, ctx.jar.session));
  if (!oldKey) return;
  await ctx.sessions.store
    .delete(oldKey)
    .catch((err) => ctx.logger.warn({ err: describeCause(err) }, failed));
}

function exchangeFailure(ctx: EngineContext, f: RequestFacts, err: unknown, returnTo: string): ErrorDecision {
  if (err instanceof GatehouseError) {
    // A provider preset's own refusal (Entra: a tenant not allowed, Graph failing) says why.
    ctx.logger.warn({ reqId: f.requestId, err: describeCause(err) }, 'login failed');
    const code =
      err.code === 'forbidden'
        ? 'forbidden'
        : err.code === 'provider_error'
          ? 'provider_error'
          : 'provider_unavailable';
    return callbackError(err.status, err.publicReason, returnTo, code);
  }
  const log = { reqId: f.requestId, err: describeCause(err) };
  const failure = classifyOidcError(err);
  switch (failure.code) {
    case 'provider_error':
      ctx.logger.warn({ ...log, status: failure.status }, 'code exchange failed: identity provider error');
      return callbackError(
        502,
        'The identity provider failed while completing your sign-in.',
        returnTo,
        'provider_error',
      );
    case 'refused':
      ctx.logger.warn(
        { ...log, error: failure.oauthError, error_description: failure.description, status: failure.status },
        'code exchange refused',
      );
      return callbackError(
        400,
        `The identity provider refused the sign-in code (${failure.oauthError}); it may have expired or been used already.`,
        returnTo,
        'callback_invalid',
      );
    case 'unreachable':
      ctx.logger.warn(log, 'code exchange failed: identity provider unreachable');
      return callbackError(
        502,
        'The identity provider could not be reached to complete your sign-in.',
        returnTo,
        'provider_unavailable',
      );
    default:
      // Validation failures (ID token signature, issuer, audience, expiry, nonce, userinfo sub…)
      // and answers that are neither tokens nor an OAuth error.
      ctx.logger.warn(log, 'login rejected: identity provider response failed validation');
      return callbackError(
        400,
        `The identity provider's response could not be verified (${shortReason(err)}).`,
        returnTo,
        'callback_invalid',
      );
  }
}

/** A user-safe summary of a validation error: the check that failed, never a token. */
function shortReason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]*/g, '[token]').slice(0, 160);
}
