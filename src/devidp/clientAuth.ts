// Client authentication for the token and revocation endpoints: client_secret_basic and
// client_secret_post (RFC 6749 §2.3.1), never both at once, and `none` (a public client sends
// only its client_id; PKCE is what protects its code) for clients registered that way.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type IdpContext, oauthError } from './context.js';
import { isFormRequest, parseBasicAuth, singleParams } from './http.js';

export type ClientAuthResult =
  | { ok: true; clientId: string }
  | { ok: false; status: 400 | 401; error: 'invalid_client' | 'invalid_request'; description: string };

/** Compares digests so neither the length nor a matching prefix of the secret leaks in timing. */
function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

export const CLIENT_CHALLENGE = { 'www-authenticate': 'Basic realm="dev-idp"' };

export function authenticateClient(
  ctx: IdpContext,
  req: IncomingMessage,
  params: Record<string, string>,
): ClientAuthResult {
  const header = req.headers.authorization;
  const fail = (description: string): ClientAuthResult => ({
    ok: false,
    status: 401,
    error: 'invalid_client',
    description,
  });
  let id: string | undefined;
  let secret: string | undefined;
  let method: 'client_secret_basic' | 'client_secret_post' | 'none';
  if (header !== undefined && /^basic\b/i.test(header)) {
    const basic = parseBasicAuth(header);
    if (basic === undefined) return fail('malformed Basic authorization header');
    if (params.client_secret !== undefined) {
      return {
        ok: false,
        status: 400,
        error: 'invalid_request',
        description: 'use one client authentication method, not both Basic and client_secret',
      };
    }
    if (params.client_id !== undefined && params.client_id !== basic.id) {
      return {
        ok: false,
        status: 400,
        error: 'invalid_request',
        description: 'client_id differs from the Basic credentials',
      };
    }
    ({ id, secret } = basic);
    method = 'client_secret_basic';
  } else {
    id = params.client_id;
    secret = params.client_secret;
    method = secret === undefined ? 'none' : 'client_secret_post';
    if (id === undefined || (secret === undefined && ctx.clients.find(id)?.authMethod !== 'none')) {
      return fail('client authentication required (client_secret_basic or client_secret_post)');
    }
  }
  const client = ctx.clients.find(id);
  if (client === undefined) return fail('unknown client');
  // A registered client authenticates the one way it registered (RFC 7591 token_endpoint_auth_method).
  if (client.authMethod !== undefined && client.authMethod !== method)
    return fail(`client "${id}" is registered for ${client.authMethod}, not ${method}`);
  if (method !== 'none' && !sameSecret(secret ?? '', client.secret)) return fail('wrong client secret');
  return { ok: true, clientId: id };
}

/**
 * The shared preamble of the client-authenticated endpoints (token, revocation): a form body,
 * each parameter at most once, and an authenticated client. Answers the OAuth error itself and
 * returns undefined when any of that fails.
 */
export function readClientForm(
  ctx: IdpContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): { values: Record<string, string>; clientId: string } | undefined {
  if (!isFormRequest(req)) {
    oauthError(ctx, res, 400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
    return undefined;
  }
  const { values, duplicate } = singleParams(new URLSearchParams(body.toString('utf8')));
  if (duplicate !== undefined) {
    oauthError(ctx, res, 400, 'invalid_request', `parameter ${duplicate} was sent more than once`);
    return undefined;
  }
  const client = authenticateClient(ctx, req, values);
  if (!client.ok) {
    oauthError(
      ctx,
      res,
      client.status,
      client.error,
      client.description,
      client.status === 401 ? CLIENT_CHALLENGE : {},
    );
    return undefined;
  }
  return { values, clientId: client.clientId };
}
