// POST /register: OAuth 2.0 Dynamic Client Registration (RFC 7591). A relying party posts its
// metadata as JSON and gets a client id (and secret) back, usable at once at every endpoint: the
// client joins the same registry as the option-configured ones (clients.ts), with its own
// redirect, post-logout and back-/front-channel logout URIs. An initial access token
// (`registrationToken`) may be required; the number of registered clients is capped.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import {
  AUTH_METHODS,
  type AuthMethod,
  DEVICE_CODE_GRANT,
  GRANT_TYPES,
  type GrantType,
  type RegisteredClient,
  RegistryFullError,
  TOKEN_EXCHANGE_GRANT,
} from './clients.js';
import { type Handler, type IdpContext, oauthError } from './context.js';
import { bearerToken, isLoopbackUrl, mediaType, readBody, sendJson } from './http.js';
import { randomToken } from './tokens.js';

/** Bounds on one registration, so a client cannot make the IdP hold arbitrary amounts of data. */
const MAX_URIS = 20;
const MAX_URI_LENGTH = 2000;
const MAX_NAME_LENGTH = 200;

/** RFC 7591 §3.2.2: the registration is refused with this code and description. */
class MetadataError extends Error {
  constructor(
    readonly code: 'invalid_redirect_uri' | 'invalid_client_metadata',
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new MetadataError('invalid_client_metadata', message);

/**
 * An absolute URI a browser or this IdP may be sent to: https anywhere, http only on loopback
 * (OAuth 2.0 Security BCP §4.1.3; the dev IdP runs next to its relying parties), no fragment.
 */
function checkUri(name: string, value: unknown, code: MetadataError['code']): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_URI_LENGTH)
    throw new MetadataError(code, `${name}: each must be a URI of at most ${MAX_URI_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MetadataError(code, `${name}: "${value}" is not an absolute URI`);
  }
  if (url.hash !== '' || value.includes('#'))
    throw new MetadataError(code, `${name}: "${value}" must not contain a fragment`);
  if (url.protocol === 'https:') return value;
  if (url.protocol === 'http:' && isLoopbackUrl(value)) return value;
  throw new MetadataError(code, `${name}: "${value}" must be https, or http on a loopback host`);
}

function uriList(name: string, value: unknown, code: MetadataError['code']): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_URIS)
    throw new MetadataError(code, `${name}: must be an array of 1 to ${MAX_URIS} URIs`);
  return value.map((v) => checkUri(name, v, code));
}

function stringList(name: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 10 || !value.every((v) => typeof v === 'string'))
    throw bad(`${name}: must be an array of strings`);
  return [...new Set(value as string[])];
}

function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw bad(`${name}: must be true or false`);
}

/** The metadata this IdP understands, validated, with RFC 7591 §2's defaults filled in. */
interface ClientMetadata {
  redirect_uris?: string[];
  token_endpoint_auth_method: AuthMethod;
  grant_types: GrantType[];
  response_types: string[];
  client_name?: string;
  scope?: string;
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  frontchannel_logout_uri?: string;
  frontchannel_logout_session_required?: boolean;
  application_type?: string;
}

/** RFC 7591 §2: unknown members are ignored; the known ones must make sense together. */
function parseClientMetadata(raw: Record<string, unknown>): ClientMetadata {
  const auth = raw.token_endpoint_auth_method ?? 'client_secret_basic';
  if (typeof auth !== 'string' || !(AUTH_METHODS as readonly string[]).includes(auth))
    throw bad(`token_endpoint_auth_method: supported are ${AUTH_METHODS.join(', ')}`);
  const grants = stringList('grant_types', raw.grant_types) ?? ['authorization_code'];
  for (const g of grants) {
    if (!(GRANT_TYPES as readonly string[]).includes(g))
      throw bad(`grant_types: "${g}" is not supported (supported: ${GRANT_TYPES.join(', ')})`);
  }
  const responseTypes = stringList('response_types', raw.response_types) ?? ['code'];
  for (const r of responseTypes) {
    if (r !== 'code') throw bad(`response_types: "${r}" is not supported (only code)`);
  }
  // RFC 7591 §2.1: grant_types and response_types must agree.
  const code = grants.includes('authorization_code');
  if (code !== responseTypes.includes('code'))
    throw bad('grant_types authorization_code and response_types code go together (RFC 7591 §2.1)');
  if (grants.includes('refresh_token') && !code && !grants.includes(DEVICE_CODE_GRANT))
    throw bad(
      'grant_types: refresh_token needs authorization_code or the device code grant (the grants that issue refresh tokens)',
    );
  for (const g of ['client_credentials', TOKEN_EXCHANGE_GRANT]) {
    if (auth === 'none' && grants.includes(g))
      throw bad(`grant_types: ${g} needs a confidential client (not auth method none)`);
  }
  const redirects = uriList('redirect_uris', raw.redirect_uris, 'invalid_redirect_uri');
  if (code && redirects === undefined)
    throw new MetadataError(
      'invalid_redirect_uri',
      'redirect_uris: required for the authorization_code grant',
    );
  const name = raw.client_name;
  if (name !== undefined && (typeof name !== 'string' || name.length > MAX_NAME_LENGTH))
    throw bad(`client_name: must be a string of at most ${MAX_NAME_LENGTH} characters`);
  const scope = raw.scope;
  if (scope !== undefined && (typeof scope !== 'string' || scope.trim() === '' || scope.length > 1000))
    throw bad('scope: must be a space-separated list of scopes');
  const appType = raw.application_type;
  if (appType !== undefined && appType !== 'web' && appType !== 'native')
    throw bad('application_type: must be web or native');
  const single = (key: string) =>
    raw[key] === undefined ? undefined : checkUri(key, raw[key], 'invalid_client_metadata');
  const m: ClientMetadata = {
    token_endpoint_auth_method: auth as AuthMethod,
    grant_types: grants as GrantType[],
    response_types: responseTypes,
  };
  const optional = {
    redirect_uris: redirects,
    client_name: name as string | undefined,
    scope: (scope as string | undefined)?.trim().replace(/\s+/g, ' '),
    post_logout_redirect_uris: uriList(
      'post_logout_redirect_uris',
      raw.post_logout_redirect_uris,
      'invalid_client_metadata',
    ),
    backchannel_logout_uri: single('backchannel_logout_uri'),
    backchannel_logout_session_required: optionalBoolean(
      'backchannel_logout_session_required',
      raw.backchannel_logout_session_required,
    ),
    frontchannel_logout_uri: single('frontchannel_logout_uri'),
    frontchannel_logout_session_required: optionalBoolean(
      'frontchannel_logout_session_required',
      raw.frontchannel_logout_session_required,
    ),
    application_type: appType as string | undefined,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) Object.assign(m, { [k]: v });
  return m;
}

function sameToken(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** RFC 6750 §3: a missing or wrong initial access token is a Bearer challenge. */
function refuseToken(ctx: IdpContext, res: ServerResponse, description: string): void {
  ctx.stats.error('invalid_token');
  sendJson(
    res,
    401,
    { error: 'invalid_token', error_description: description },
    {
      'www-authenticate': `Bearer realm="dev-idp", error="invalid_token", error_description="${description}"`,
    },
  );
}

export const handleRegister: Handler = async (ctx, req, res) => {
  const body = await readBody(req);
  const required = ctx.options.registrationToken;
  if (required !== undefined) {
    const given = bearerToken(req.headers.authorization);
    if (given === undefined) return refuseToken(ctx, res, 'an initial access token is required');
    if (!sameToken(given, required)) return refuseToken(ctx, res, 'the initial access token is not valid');
  }
  if (mediaType(req) !== 'application/json') {
    return oauthError(ctx, res, 400, 'invalid_client_metadata', 'the body must be application/json');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return oauthError(ctx, res, 400, 'invalid_client_metadata', 'the body is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return oauthError(ctx, res, 400, 'invalid_client_metadata', 'the body must be a JSON object');
  }
  let metadata: ClientMetadata;
  try {
    metadata = parseClientMetadata(raw as Record<string, unknown>);
  } catch (err) {
    if (err instanceof MetadataError) return oauthError(ctx, res, 400, err.code, err.message);
    throw err;
  }
  const issuedAt = Math.floor(ctx.now() / 1000);
  const id = `dcr-${randomToken(16)}`;
  const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : randomToken(32);
  const response: Record<string, unknown> = {
    client_id: id,
    ...(secret === undefined ? {} : { client_secret: secret, client_secret_expires_at: 0 }),
    client_id_issued_at: issuedAt,
    ...metadata,
  };
  const client: RegisteredClient = {
    id,
    secret: secret ?? '',
    scopes: metadata.scope?.split(' '),
    audience: undefined,
    grantTypes: metadata.grant_types,
    redirectUris: metadata.redirect_uris ?? [],
    // No list registered: only the loopback default, as for the option-configured clients.
    postLogoutRedirectUris: metadata.post_logout_redirect_uris,
    backchannelLogoutUri: metadata.backchannel_logout_uri,
    frontchannelLogoutUri: metadata.frontchannel_logout_uri,
    authMethod: metadata.token_endpoint_auth_method,
  };
  try {
    ctx.clients.register(client);
  } catch (err) {
    if (err instanceof RegistryFullError)
      return oauthError(ctx, res, 400, 'invalid_client_metadata', err.message);
    throw err;
  }
  ctx.stats.registered();
  ctx.log(`dev-idp: registered client ${id}${metadata.client_name ? ` (${metadata.client_name})` : ''}`);
  sendJson(res, 201, response, { pragma: 'no-cache' });
};
