// Discovery and JWKS. The document is built per request because profiles change it at runtime.
import { GRANT_TYPES } from './clients.js';
import { type Handler, type IdpContext, oauthError } from './context.js';
import { sendJson } from './http.js';

export function discoveryDocument(ctx: IdpContext): Record<string, unknown> {
  const iss = ctx.issuer;
  const p = ctx.profiles;
  // Google, Cognito and GitLab do not list offline_access (Google rejects it outright).
  const offline = p.has('google') || p.has('cognito') || p.has('gitlab') ? [] : ['offline_access'];
  // Okta's groups scope (a custom authorization server lists it once created).
  const groups = p.has('okta') ? ['groups'] : [];
  return {
    issuer: iss,
    authorization_endpoint: `${iss}/authorize`,
    token_endpoint: `${iss}/token`,
    userinfo_endpoint: `${iss}/userinfo`,
    jwks_uri: `${iss}/jwks`,
    revocation_endpoint: `${iss}/revoke`,
    introspection_endpoint: `${iss}/introspect`,
    // RFC 7591 (registration.ts); an initial access token may be required (registrationToken).
    registration_endpoint: `${iss}/register`,
    // Cognito has no OIDC end_session_endpoint; its logout is /logout?client_id=&logout_uri=.
    // Auth0 has one only with RP-Initiated Logout on; otherwise /v2/logout?client_id=&returnTo=.
    ...(p.has('cognito') || p.has('auth0') ? {} : { end_session_endpoint: `${iss}/end-session` }),
    scopes_supported: ['openid', 'profile', 'email', ...offline, ...groups],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // RFC 8693 token exchange (tokenExchange.ts) and RFC 8628 device grant (deviceGrant.ts) too.
    grant_types_supported: [...GRANT_TYPES],
    device_authorization_endpoint: `${iss}/device_authorization`,
    // RFC 9126 (par.ts): optional, so a client may still send the request through the browser.
    pushed_authorization_request_endpoint: `${iss}/par`,
    require_pushed_authorization_requests: false,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    // `none`: public clients registered through /register (PKCE is always required).
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'azp',
      'sid',
      'email',
      'email_verified',
      'name',
      'preferred_username',
      'groups',
      'roles',
    ],
    authorization_response_iss_parameter_supported: true,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    // Front-channel logout iframes carry iss and sid (frontchannel.ts).
    frontchannel_logout_supported: true,
    frontchannel_logout_session_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  };
}

/** Under entra-multi-tenant: ID tokens' `iss` is the user's tenant (`<root>/<tid>/v2.0`). */
export function entraTenantIssuerTemplate(ctx: IdpContext): string | undefined {
  return ctx.profiles.has('entra-multi-tenant') ? `${ctx.issuer}/{tenantid}/v2.0` : undefined;
}

/**
 * /common/v2.0 and /organizations/v2.0 discovery under entra-multi-tenant, as Entra answers it:
 * the issuer is the template `<root>/{tenantid}/v2.0`, and no RFC 9207 `iss` in callbacks.
 */
export const handleTenantDiscovery: Handler = async (ctx, _req, res) => {
  const template = entraTenantIssuerTemplate(ctx);
  if (template === undefined) {
    sendJson(res, 404, {
      error: 'not_found',
      error_description: 'tenant discovery needs profile entra-multi-tenant',
    });
    return;
  }
  const doc = {
    ...discoveryDocument(ctx),
    issuer: template,
    authorization_response_iss_parameter_supported: false,
  };
  sendJson(res, 200, doc, { 'cache-control': 'no-cache' });
};

export const handleDiscovery: Handler = async (ctx, _req, res) => {
  if (ctx.profiles.has('discovery-down')) {
    oauthError(ctx, res, 503, 'temporarily_unavailable', 'discovery unavailable (discovery-down profile)', {
      'retry-after': '1',
    });
    return;
  }
  // no-cache, not max-age: profiles and keys change at runtime and tests expect to see it.
  sendJson(res, 200, discoveryDocument(ctx), { 'cache-control': 'no-cache' });
};

export const handleJwks: Handler = async (ctx, _req, res) => {
  sendJson(res, 200, ctx.keys.servedJwks(), {
    'cache-control': 'no-cache',
    'content-type': 'application/jwk-set+json',
  });
};
