// RP-initiated logout: the standard end_session_endpoint and Cognito's /logout. Both only
// redirect to URIs that pass the same rules as redirect_uri, so neither is an open redirector.
import { compactVerify, createLocalJWKSet, decodeJwt, type JWTPayload } from 'jose';
import type { RegisteredClient } from './clients.js';
import { type Handler, type IdpContext, oauthErrorPage } from './context.js';
import {
  clearSessionCookie,
  frontchannelLogoutUrl,
  sendFrontchannelPage,
  sessionCookieSid,
} from './frontchannel.js';
import { isFormRequest, readBody, redirect, sendHtml, singleParams } from './http.js';
import { isAllowedUri } from './options.js';
import { signedOutPage } from './pages.js';

/**
 * Verifies an id_token_hint's signature, issuer and audience (a client of this IdP) and returns
 * its claims and that client. Expiry is ignored on purpose: RPs usually log out with the ID token
 * they got at login, long expired by then.
 */
async function verifyHint(
  ctx: IdpContext,
  hint: string,
): Promise<{ claims: JWTPayload; client: RegisteredClient } | undefined> {
  try {
    await compactVerify(hint, createLocalJWKSet(ctx.keys.ownJwks()));
    const claims = decodeJwt(hint);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const client = aud.flatMap((a) => (typeof a === 'string' ? [ctx.clients.find(a)] : [])).find(Boolean);
    if (claims.iss !== ctx.issuer || client === undefined) return undefined;
    return { claims, client };
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
  const now = ctx.now();
  let client: RegisteredClient | undefined;
  if (v.client_id !== undefined) {
    client = ctx.clients.find(v.client_id);
    if (client === undefined)
      return oauthErrorPage(ctx, res, 400, 'invalid_client', `unknown client_id "${v.client_id}"`);
  }
  // The session that ends: the hint's, else this browser's (the user came to end-session directly).
  let sid: string | undefined;
  if (v.id_token_hint !== undefined) {
    const hint = await verifyHint(ctx, v.id_token_hint);
    if (hint === undefined || (client !== undefined && hint.client.id !== client.id))
      return oauthErrorPage(ctx, res, 400, 'invalid_request', 'id_token_hint is not valid');
    client = hint.client;
    if (typeof hint.claims.sid === 'string') sid = hint.claims.sid;
  } else if (v.logout_hint !== undefined && client !== undefined) {
    // RP-Initiated Logout §2: an RP whose ID token is too long for a URL sends client_id and
    // logout_hint; this IdP's hint is the session id (`sid`), random and unguessable. A session
    // of another client is not this client's to end.
    const owner = ctx.sessions.clientOf(v.logout_hint, now);
    if (owner === undefined || owner === client.id) sid = v.logout_hint;
  } else {
    sid = sessionCookieSid(req, ctx.issuer);
  }
  // The client whose post-logout URIs apply: named, or the one the ending session was for.
  const sessionClientId = sid === undefined ? undefined : ctx.sessions.clientOf(sid, now);
  const sessionClient = sessionClientId === undefined ? undefined : ctx.clients.find(sessionClientId);
  client ??= sessionClient ?? ctx.clients.defaultClient;
  const target = v.post_logout_redirect_uri;
  if (target !== undefined && !isAllowedUri(client.postLogoutRedirectUris, target)) {
    return oauthErrorPage(
      ctx,
      res,
      400,
      'invalid_request',
      `post_logout_redirect_uri "${target}" is not allowed`,
    );
  }
  // Only a live session is announced: a stale cookie names nothing the RP should hear about.
  const live = sessionClient !== undefined;
  if (sid !== undefined) ctx.sessions.end(sid, now);
  // Logging out at the IdP ends this browser's SSO session too, even when the hint named another
  // one: a later prompt=none from any client must get login_required.
  const browserSid = sessionCookieSid(req, ctx.issuer);
  if (browserSid !== undefined) ctx.sessions.end(browserSid, now);
  let next: string | undefined;
  if (target !== undefined) {
    const url = new URL(target);
    if (v.state !== undefined) url.searchParams.set('state', v.state);
    next = url.href;
  }
  const frame = live && sid !== undefined ? frontchannelLogoutUrl(ctx, sessionClient, sid) : undefined;
  const clear = clearSessionCookie(ctx.issuer);
  if (frame !== undefined) return sendFrontchannelPage(res, [frame], next, clear);
  res.setHeader('set-cookie', clear);
  if (next === undefined) return sendHtml(res, 200, signedOutPage());
  redirect(res, next);
};

/** Auth0's logout without RP-Initiated Logout: `client_id` and `returnTo`. */
export const handleAuth0Logout: Handler = async (ctx, _req, res, query) => {
  const { values: v } = singleParams(query);
  const client = v.client_id === undefined ? undefined : ctx.clients.find(v.client_id);
  if (client === undefined) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', 'client_id is missing or unknown');
  }
  const target = v.returnTo;
  if (target === undefined || !isAllowedUri(client.postLogoutRedirectUris, target)) {
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
  const client = v.client_id === undefined ? undefined : ctx.clients.find(v.client_id);
  if (client === undefined) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', 'client_id is missing or unknown');
  }
  const target = v.logout_uri;
  if (target === undefined || !isAllowedUri(client.postLogoutRedirectUris, target)) {
    return oauthErrorPage(ctx, res, 400, 'invalid_request', 'logout_uri is missing or not allowed');
  }
  redirect(res, target);
};
