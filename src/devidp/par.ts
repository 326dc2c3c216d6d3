// RFC 9126 pushed authorization requests: POST /par takes the authorization request's parameters
// straight from the authenticated client (never through the browser, so they cannot be read or
// altered there) and answers a request_uri; /authorize?client_id=…&request_uri=… then runs that
// request. A request_uri is single use and lives 60 s. The pushed parameters get the
// authorization endpoint's own checks when they are used; the ones that decide where errors may
// be sent (client, redirect_uri) are checked here already, as RFC 9126 §2.1 asks.
import { readClientForm } from './clientAuth.js';
import { type Handler, type IdpContext, oauthError } from './context.js';
import { readBody, sendJson } from './http.js';
import { isAllowedUri } from './options.js';
import { randomToken } from './tokens.js';

export const PAR_TTL_SECONDS = 60;
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

export interface PushedRequest {
  clientId: string;
  /** The authorization request's parameters as pushed, client authentication removed. */
  params: Record<string, string>;
}

export const handlePar: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  const form = readClientForm(ctx, req, res, body);
  if (!form) return;
  const { values, clientId } = form;
  const client = ctx.clients.find(clientId);
  if (client === undefined || !client.grantTypes.includes('authorization_code')) {
    oauthError(ctx, res, 400, 'unauthorized_client', `client ${clientId} may not use authorization_code`);
    return;
  }
  // RFC 9126 §2.1: a pushed request cannot itself point at another pushed request.
  if (values.request_uri !== undefined) {
    oauthError(ctx, res, 400, 'invalid_request', 'request_uri must not be pushed');
    return;
  }
  if (values.request !== undefined) {
    oauthError(ctx, res, 400, 'request_not_supported', 'the request parameter is not supported');
    return;
  }
  if (!values.redirect_uri) {
    oauthError(ctx, res, 400, 'invalid_request', 'redirect_uri is required');
    return;
  }
  if (!isAllowedUri(client.redirectUris, values.redirect_uri)) {
    oauthError(ctx, res, 400, 'invalid_request', `redirect_uri "${values.redirect_uri}" is not allowed`);
    return;
  }
  const { client_secret: _secret, ...params } = values;
  const requestUri = `${REQUEST_URI_PREFIX}${randomToken(24)}`;
  ctx.pushedRequests.set(
    requestUri,
    { clientId, params: { ...params, client_id: clientId } },
    ctx.now() + PAR_TTL_SECONDS * 1000,
  );
  sendJson(res, 201, { request_uri: requestUri, expires_in: PAR_TTL_SECONDS });
};

/**
 * The pushed parameters a request_uri names, used up by this call. The client_id sent along must
 * be the client that pushed it (RFC 9126 §4).
 */
export function takePushedRequest(
  ctx: IdpContext,
  requestUri: string,
  clientId: string | undefined,
): { ok: true; params: Record<string, string> } | { ok: false; description: string } {
  const pushed = ctx.pushedRequests.get(requestUri, ctx.now());
  if (pushed === undefined)
    return { ok: false, description: 'request_uri is unknown, expired (60 s) or already used' };
  if (clientId !== pushed.clientId)
    return { ok: false, description: 'request_uri was pushed by another client (client_id must match)' };
  ctx.pushedRequests.delete(requestUri);
  return { ok: true, params: pushed.params };
}
