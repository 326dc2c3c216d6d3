// GET/POST /authorize. Errors about the client or redirect_uri are shown as a page: redirecting
// to an unverified URI would make the IdP an open redirector (RFC 6749 §4.1.2.1). Every later
// error goes back to the client as `error=` on its redirect_uri, with state and iss.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestedAudience } from './audience.js';
import {
  type AuthRequest,
  type Handler,
  type IdpContext,
  INTERACTION_TTL_MS,
  oauthErrorPage,
  pathOnIssuer,
} from './context.js';
import { sessionCookie, sessionCookieSid } from './frontchannel.js';
import { githubStyle } from './github.js';
import { isFormRequest, readBody, redirect, sendHtml, singleParams } from './http.js';
import { isAllowedUri } from './options.js';
import { loginPage } from './pages.js';
import { REQUEST_URI_PREFIX, takePushedRequest } from './par.js';
import { randomToken } from './tokens.js';
import type { DevUser } from './types.js';

const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** The client's redirect_uri with response parameters added (its own query is kept). */
export function callbackUrl(
  ctx: IdpContext,
  request: Pick<AuthRequest, 'redirectUri' | 'state'>,
  params: Record<string, string>,
): string {
  const url = new URL(request.redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  if (request.state !== undefined) url.searchParams.set('state', request.state);
  // RFC 9207: lets the client detect mix-up attacks; advertised in discovery.
  // Entra sends none (entra-multi-tenant: its discovery does not advertise it).
  if (!ctx.profiles.has('entra-multi-tenant')) url.searchParams.set('iss', ctx.issuer);
  return url.href;
}

export function redirectError(
  ctx: IdpContext,
  res: ServerResponse,
  request: Pick<AuthRequest, 'redirectUri' | 'state'>,
  error: string,
  description: string,
): void {
  ctx.stats.error(error);
  redirect(res, callbackUrl(ctx, request, { error, error_description: description }));
}

/** Whether this login may get a refresh token, decided now as the provider would at consent. */
function offlineGranted(ctx: IdpContext, request: AuthRequest, user: DevUser): boolean {
  const github = githubStyle(ctx);
  if (github) return github === 'app'; // GitHub Apps always issue refresh tokens (no scope needed)
  if (ctx.profiles.has('google')) {
    // Google hands out a refresh token on the first offline consent only; later logins need
    // prompt=consent to get another one.
    if (request.accessType !== 'offline') return false;
    const first = ctx.offlineConsents.get(user.sub, ctx.now()) === undefined;
    if (!first && !request.prompt.includes('consent')) return false;
    ctx.offlineConsents.set(user.sub, true, Number.MAX_SAFE_INTEGER);
    return true;
  }
  // Cognito and GitLab always issue one and do not know offline_access.
  if (ctx.profiles.has('cognito') || ctx.profiles.has('gitlab')) return true;
  return request.scope.split(' ').includes('offline_access');
}

/**
 * Logs the user in and sends the browser back with the code, setting the IdP's browser-session
 * (SSO) cookie: a later prompt=none is approved from it, and end-session visited directly knows
 * which session ends (frontchannel.ts).
 */
export function redirectLoggedIn(
  ctx: IdpContext,
  res: ServerResponse,
  request: AuthRequest,
  user: DevUser,
  sso?: SsoSession,
  extraClaims?: Record<string, unknown>,
): void {
  const { location, sid } = completeLogin(ctx, request, user, sso, extraClaims);
  res.setHeader('set-cookie', sessionCookie(ctx.issuer, sid));
  redirect(res, location);
}

/** A live IdP session named by this browser's SSO cookie. */
interface SsoSession {
  sid: string;
  clientId: string;
  authTime: number;
  user: DevUser;
}

/** The SSO session this browser's cookie names, if it is live and its user still exists. */
function ssoSession(ctx: IdpContext, req: IncomingMessage): SsoSession | undefined {
  const sid = sessionCookieSid(req, ctx.issuer);
  const session = sid === undefined ? undefined : ctx.sessions.get(sid, ctx.now());
  const user = session === undefined ? undefined : ctx.users.bySub(session.sub);
  if (sid === undefined || session === undefined || user === undefined) return undefined;
  return { sid, clientId: session.clientId, authTime: session.authTime, user };
}

/**
 * Issues the code and returns where to send the browser. A fresh login starts an IdP session; an
 * SSO approval for the session's own client reuses its sid and auth_time (one browser session, as
 * a real IdP's), while another client gets its own session (its logout routing is per client)
 * that keeps the original auth_time.
 */
export function completeLogin(
  ctx: IdpContext,
  request: AuthRequest,
  user: DevUser,
  sso?: SsoSession,
  /** Claims typed into the login page for this login only. */
  extraClaims?: Record<string, unknown>,
): { location: string; sid: string } {
  const now = ctx.now();
  const sessionTtlMs = Math.max(ctx.options.refreshTokenTtl, 3600) * 1000;
  const authTime = sso?.authTime ?? Math.floor(now / 1000);
  const reused = sso !== undefined && sso.clientId === request.clientId;
  const sid = reused
    ? sso.sid
    : ctx.sessions.create(user.sub, request.clientId, now + sessionTtlMs, authTime);
  // Per-test claims are taken per login and stay with its session (refreshes keep them); a
  // silent re-authorization that reuses the SSO session keeps the claims already bound to it.
  if (!reused) {
    ctx.claimOverrides.bind(
      sid,
      ctx.claimOverrides.takeForLogin(user.username, extraClaims),
      now + sessionTtlMs,
    );
  }
  const code = ctx.tokens.issueCode(
    {
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce,
      scope: request.scope,
      sub: user.sub,
      sid,
      authTime,
      offline: offlineGranted(ctx, request, user),
      audience: request.audience,
    },
    now,
  );
  return { location: callbackUrl(ctx, request, { code }), sid };
}

/** The first problem with the request as [error, description], to send back to the client. */
function validate(
  ctx: IdpContext,
  v: Record<string, string>,
  request: AuthRequest,
  duplicate?: string,
): [string, string] | undefined {
  if (duplicate !== undefined) return ['invalid_request', `parameter ${duplicate} was sent more than once`];
  if (v.request !== undefined) return ['request_not_supported', 'the request parameter is not supported'];
  if (v.request_uri !== undefined)
    return ['request_uri_not_supported', 'the request_uri parameter is not supported'];
  if (!v.response_type) return ['invalid_request', 'response_type is required'];
  if (v.response_type !== 'code')
    return ['unsupported_response_type', 'only response_type=code is supported'];
  if (v.response_mode !== undefined && v.response_mode !== 'query') {
    return ['invalid_request', 'only response_mode=query is supported'];
  }
  const scopes = request.scope.split(' ');
  if (!githubStyle(ctx) && !scopes.includes('openid')) return ['invalid_scope', 'scope must include openid'];
  if (ctx.profiles.has('google') && scopes.includes('offline_access')) {
    return ['invalid_scope', 'Some requested scopes were invalid. {invalid=[offline_access]}'];
  }
  if (!v.code_challenge) return ['invalid_request', 'code_challenge is required (PKCE with S256)'];
  if (v.code_challenge_method !== 'S256') return ['invalid_request', 'code_challenge_method must be S256'];
  if (!CHALLENGE.test(v.code_challenge))
    return ['invalid_request', 'code_challenge must be a base64url SHA-256 digest'];
  if (request.prompt.includes('none') && request.prompt.length > 1) {
    return ['invalid_request', 'prompt=none cannot be combined with other values'];
  }
  if (ctx.profiles.has('authorize-error'))
    return ['access_denied', 'the user denied the request (authorize-error profile)'];
  return undefined;
}

export const handleAuthorize: Handler = async (ctx, req, res, query) => {
  let params = query;
  if (req.method === 'POST') {
    const body = await readBody(req);
    if (!isFormRequest(req)) {
      oauthErrorPage(
        ctx,
        res,
        400,
        'invalid_request',
        'POST to /authorize must be application/x-www-form-urlencoded',
      );
      return;
    }
    params = new URLSearchParams(body.toString('utf8'));
  }
  const { values: sent, duplicate } = singleParams(params);
  if (duplicate === 'client_id' || duplicate === 'redirect_uri') {
    oauthErrorPage(ctx, res, 400, 'invalid_request', `parameter ${duplicate} was sent more than once`);
    return;
  }
  let v = sent;
  // RFC 9126: the request was pushed to /par; only client_id and request_uri come this way. An
  // unusable request_uri gets a page: there is no verified redirect_uri to send an error to.
  if (sent.request_uri?.startsWith(REQUEST_URI_PREFIX)) {
    const pushed = takePushedRequest(ctx, sent.request_uri, sent.client_id);
    if (!pushed.ok) return oauthErrorPage(ctx, res, 400, 'invalid_request_uri', pushed.description);
    v = pushed.params;
  }
  if (!v.client_id) return oauthErrorPage(ctx, res, 400, 'invalid_request', 'client_id is required');
  const registered = ctx.clients.find(v.client_id);
  if (registered === undefined || !registered.grantTypes.includes('authorization_code')) {
    return oauthErrorPage(ctx, res, 400, 'invalid_client', `unknown client_id "${v.client_id}"`);
  }
  if (!v.redirect_uri) return oauthErrorPage(ctx, res, 400, 'invalid_request', 'redirect_uri is required');
  if (!isAllowedUri(registered.redirectUris, v.redirect_uri)) {
    const rule = registered.redirectUris
      ? 'is not registered'
      : 'is not a loopback http(s) URI without fragment';
    return oauthErrorPage(ctx, res, 400, 'invalid_request', `redirect_uri "${v.redirect_uri}" ${rule}`);
  }
  const request: AuthRequest = {
    clientId: v.client_id,
    redirectUri: v.redirect_uri,
    scope: (v.scope ?? '').trim().replace(/ +/g, ' '),
    state: v.state,
    nonce: v.nonce,
    codeChallenge: v.code_challenge ?? '',
    loginHint: v.login_hint,
    prompt: (v.prompt ?? '').split(' ').filter((p) => p !== ''),
    accessType: v.access_type,
  };
  const problem = validate(ctx, v, request, duplicate);
  if (problem !== undefined) return redirectError(ctx, res, request, problem[0], problem[1]);
  // RFC 8707 resource (or Auth0's audience) at authorize: the aud of the code's access tokens.
  const audience = requestedAudience(v);
  if (!audience.ok) return redirectError(ctx, res, request, audience.error, audience.description);
  request.audience = audience.audience;

  const auto = ctx.options.autoLogin;
  if (auto !== undefined) {
    // A known login_hint wins over --auto-login so scripted tests can pick their user.
    const hinted = request.loginHint === undefined ? undefined : ctx.users.find(request.loginHint);
    return redirectLoggedIn(ctx, res, request, hinted ?? auto);
  }
  // prompt=none (OIDC Core §3.1.2.1): approved silently from this browser's SSO session, else
  // login_required. A login_hint naming someone else is not that session's user to approve.
  // Other prompts still show the login page, so a test can switch users in one browser.
  if (request.prompt.includes('none')) {
    const sso = ssoSession(ctx, req);
    const hinted = request.loginHint === undefined ? undefined : ctx.users.find(request.loginHint);
    if (sso === undefined || (hinted !== undefined && hinted.sub !== sso.user.sub))
      return redirectError(ctx, res, request, 'login_required', 'the user must log in');
    return redirectLoggedIn(ctx, res, request, sso.user, sso);
  }
  const interaction = randomToken(24);
  ctx.interactions.set(interaction, request, ctx.now() + INTERACTION_TTL_MS);
  sendHtml(
    res,
    200,
    loginPage({
      interaction,
      users: ctx.users.list(),
      clientId: request.clientId,
      scope: request.scope,
      username: request.loginHint,
      action: pathOnIssuer(ctx, '/login'),
    }),
  );
};
