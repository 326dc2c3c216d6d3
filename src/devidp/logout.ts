// RP-initiated logout: the standard end_session_endpoint and Cognito's /logout. Both only
// redirect to URIs that pass the same rules as redirect_uri, so neither is an open redirector.
import { compactVerify, createLocalJWKSet, decodeJwt, type JWTPayload } from 'jose';
import { type Handler, type IdpContext, oauthErrorPage } from './context.js';
import {
  CLEAR_SESSION_COOKIE,
  frontchannelLogoutUrl,
  sendFrontchannelPage,
  sessionCookieSid,
} from './frontchannel.js';
import { isFormRequest, readBody, redirect, sendHtml, singleParams } from './http.js';
import { isAllowedUri } from './options.js';
import { signedOutPage } from './pages.js';

/**
 * Verifies an id_token_hint's signature, issuer and audience. Expiry is ignored on purpose:
 * RPs usually log out with the ID token they got at login, long expired by then.
 */
async function verifyHint(ctx: IdpContext, hint: string): Promise<JWTPayload | undefined> {
  try {
    await compactVerify(hint, createLocalJWKSet(ctx.keys.jwks()));
    const claims = decodeJwt(hint);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.iss !== ctx.issuer || !aud.includes(ctx.options.clientId)) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

export const handleEndSession: Handler = async (ctx, req, res, query) => {
  let params = query;
  if (req.method === 'POST') {
    const body = await readBody(req);
    if (!isFormRequest(req)) {
      return oauthErrorPage(ctx, res, 400, 'invalid_request', 'POST to /end-session must be form-encoded');
    }
    params = new URLSearchParams(body.toString('utf8'));
  }
  const { values: v, duplicate } = singleParams(params);
  if (duplicate !== undefined) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', `parameter ${duplicate} was sent more than once`);
  }
  if (v.client_id !== undefined && v.client_id !== ctx.options.clientId) {
    return oauthErrorPage(ctx, res, 400, 'invalid_client', `unknown client_id "${v.client_id}"`);
  }
  const target = v.post_logout_redirect_uri;
  if (target !== undefined && !isAllowedUri(ctx.options.postLogoutRedirectUris, target)) {
    return oauthErrorPage(
      ctx,
      res,
      400,
      'invalid_request',
      `post_logout_redirect_uri "${target}" is not allowed`,
    );
  }
  // The session that ends: the hint's, else this browser's (the user came to end-session directly).
  let sid: string | undefined;
  if (v.id_token_hint !== undefined) {
    const claims = await verifyHint(ctx, v.id_token_hint);
    if (claims === undefined)
      return oauthErrorPage(ctx, res, 400, 'invalid_request', 'id_token_hint is not valid');
    if (typeof claims.sid === 'string') sid = claims.sid;
  } else if (v.logout_hint !== undefined && v.client_id !== undefined) {
    // RP-Initiated Logout §2: an RP whose ID token is too long for a URL sends client_id and
    // logout_hint; this IdP's hint is the session id (`sid`), random and unguessable.
    sid = v.logout_hint;
  } else {
    sid = sessionCookieSid(req);
  }
  // Only a live session is announced: a stale cookie names nothing the RP should hear about.
  const live = sid !== undefined && ctx.sessions.subOf(sid, ctx.now()) !== undefined;
  if (sid !== undefined) ctx.sessions.end(sid, ctx.now());
  let next: string | undefined;
  if (target !== undefined) {
    const url = new URL(target);
    if (v.state !== undefined) url.searchParams.set('state', v.state);
    next = url.href;
  }
  const frame = live && sid !== undefined ? frontchannelLogoutUrl(ctx, sid) : undefined;
  if (frame !== undefined) return sendFrontchannelPage(res, [frame], next, CLEAR_SESSION_COOKIE);
  res.setHeader('set-cookie', CLEAR_SESSION_COOKIE);
  if (next === undefined) return sendHtml(res, 200, signedOutPage());
  redirect(res, next);
};

/** Auth0's logout without RP-Initiated Logout: `client_id` and `returnTo`. */
export const handleAuth0Logout: Handler = async (ctx, _req, res, query) => {
  const { values: v } = singleParams(query);
  if (v.client_id !== ctx.options.clientId) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', 'client_id is missing or unknown');
  }
  const target = v.returnTo;
  if (target === undefined || !isAllowedUri(ctx.options.postLogoutRedirectUris, target)) {
    return oauthErrorPage(
      ctx,
      res,
      400,
      'invalid_request',
      'returnTo is missing or not an Allowed Logout URL',
    );
  }
  redirect(res, target);
};

/** Cognito's logout: `client_id` and `logout_uri`, not the OIDC parameters. */
export const handleCognitoLogout: Handler = async (ctx, _req, res, query) => {
  const { values: v } = singleParams(query);
  if (v.client_id !== ctx.options.clientId) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', 'client_id is missing or unknown');
  }
  const target = v.logout_uri;
  if (target === undefined || !isAllowedUri(ctx.options.postLogoutRedirectUris, target)) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', 'logout_uri is missing or not allowed');
  }
  redirect(res, target);
};
