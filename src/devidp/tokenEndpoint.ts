// POST /token. The slow and 5xx profiles act here, before any grant logic, as a struggling
// IdP would: the 503 never touches a token; the slow profile models an overloaded IdP whose
// requests queue before they are processed — a request whose client hung up while it waited in
// the queue is dropped unprocessed (so a replica killed mid-grant does not burn the refresh
// token), while a client that keeps waiting gets its grant processed after the delay.

import type { ServerResponse } from 'node:http';
import { readClientForm } from './clientAuth.js';
import { clientCredentialsGrant } from './clientCredentials.js';
import { DEVICE_CODE_GRANT, GRANT_TYPES, TOKEN_EXCHANGE_GRANT } from './clients.js';
import { type Handler, type IdpContext, oauthError } from './context.js';
import { deviceCodeGrant } from './deviceGrant.js';
import { answersDown, waitsInQueue } from './endpointFaults.js';
import { githubStyle } from './github.js';
import { authorizationCodeGrant, type GrantOutcome, refreshTokenGrant } from './grants.js';
import { readBody, sendJson } from './http.js';
import { feedIssuedTokens } from './issuedFeed.js';
import { tokenExchangeGrant } from './tokenExchange.js';
import { shapeTokenResponse } from './tokenResponseShape.js';

export const handleToken: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  if (!(await waitsInQueue(ctx, req, res, 'token-endpoint-slow'))) return;
  if (answersDown(ctx, res, 'token-endpoint-5xx', 'token endpoint')) return;
  const form = readClientForm(ctx, req, res, body);
  if (!form) return;
  const { values, clientId } = form;
  ctx.requestLog.note(res, { grantType: values.grant_type, clientId });
  let outcome: GrantOutcome;
  const allowed = ctx.clients.find(clientId)?.grantTypes ?? [];
  const known = (GRANT_TYPES as readonly string[]).includes(values.grant_type ?? '');
  if (known && !(allowed as readonly string[]).includes(values.grant_type ?? '')) {
    // RFC 6749 §5.2: an authenticated client using a grant it is not registered for.
    oauthError(ctx, res, 400, 'unauthorized_client', `client ${clientId} may not use ${values.grant_type}`);
    return;
  }
  switch (values.grant_type) {
    case undefined:
    case '':
      outcome = { ok: false, status: 400, error: 'invalid_request', description: 'grant_type is required' };
      break;
    case 'authorization_code':
      outcome = await authorizationCodeGrant(ctx, values, clientId);
      break;
    case 'refresh_token':
      outcome = await refreshTokenGrant(ctx, values, clientId);
      break;
    case 'client_credentials':
      outcome = await clientCredentialsGrant(ctx, values, clientId);
      break;
    case TOKEN_EXCHANGE_GRANT:
      outcome = await tokenExchangeGrant(ctx, values, clientId);
      break;
    case DEVICE_CODE_GRANT:
      outcome = await deviceCodeGrant(ctx, values, clientId);
      break;
    default:
      outcome = {
        ok: false,
        status: 400,
        error: 'unsupported_grant_type',
        description: `supported grant types: ${GRANT_TYPES.join(', ')}`,
      };
  }
  if (outcome.ok) {
    feedIssuedTokens(ctx, res, values, outcome.body);
    const body = shapeTokenResponse(ctx, outcome.body);
    ctx.tokenWatch.emit(body);
    sendJson(res, 200, body, { pragma: 'no-cache' });
  } else if (githubStyle(ctx)) githubError(ctx, res, values.grant_type, outcome.error, outcome.description);
  else oauthError(ctx, res, outcome.status, outcome.error, outcome.description);
};

/**
 * GitHub answers token errors with HTTP **200** and an error body, and names a dead code or
 * refresh token its own way (`bad_verification_code`, `bad_refresh_token`) instead of
 * `invalid_grant`. A client that trusts the status code takes this for a success.
 */
function githubError(
  ctx: IdpContext,
  res: ServerResponse,
  grantType: string | undefined,
  error: string,
  description: string,
): void {
  const code =
    error === 'invalid_grant'
      ? grantType === 'refresh_token'
        ? 'bad_refresh_token'
        : 'bad_verification_code'
      : error;
  ctx.stats.error(code);
  sendJson(res, 200, {
    error: code,
    error_description: description,
    error_uri:
      'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors',
  });
}
