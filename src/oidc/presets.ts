import { githubScopes } from './github.js';

/**
 * Provider quirks around offline access (refresh tokens), decided once at start-up.
 * - generic: ask for `offline_access` when the provider lists it in `scopes_supported`.
 * - cognito: as generic (Cognito does not list `offline_access` and issues refresh tokens anyway).
 * - google: Google rejects `offline_access`; it wants `access_type=offline`, and issues a refresh
 *   token on a repeat login only with `prompt=consent`.
 * - github: OAuth 2.0 scopes only (no `openid`); refresh tokens come with GitHub App user tokens,
 *   never from a scope.
 */
export interface OfflineAccessPlan {
  scopes: string[];
  extraParams: Record<string, string>;
  /** How to fix a missing refresh token for this provider; logged when none arrives. */
  missingRefreshHint: string;
}

export type ProviderPreset = 'generic' | 'google' | 'cognito' | 'github';

export function planOfflineAccess(
  preset: ProviderPreset,
  configuredScopes: string[],
  requestOfflineAccess: boolean,
  scopesSupported: string[] | undefined,
): OfflineAccessPlan {
  if (preset === 'github') {
    return {
      scopes: githubScopes(configuredScopes),
      extraParams: {},
      missingRefreshHint:
        'GitHub issues refresh tokens only for GitHub Apps with expiring user tokens; an OAuth app token does not expire, so its session lasts session.maxAgeSeconds',
    };
  }
  if (preset === 'google') {
    return {
      scopes: configuredScopes.filter((s) => s !== 'offline_access'),
      extraParams: requestOfflineAccess ? { access_type: 'offline', prompt: 'consent' } : {},
      missingRefreshHint:
        'Google issues refresh tokens only with access_type=offline and, on a repeat login, prompt=consent; use provider.preset: google and keep provider.requestOfflineAccess: true (never request offline_access from Google)',
    };
  }
  let scopes = [...configuredScopes];
  const listed = scopesSupported?.includes('offline_access');
  if (!requestOfflineAccess) scopes = scopes.filter((s) => s !== 'offline_access');
  else if (!scopes.includes('offline_access') && listed) scopes.push('offline_access');
  else if (scopes.includes('offline_access') && scopesSupported && !listed) {
    // Providers such as Cognito or GitLab do not list it and may reject it.
    scopes = scopes.filter((s) => s !== 'offline_access');
  }
  return {
    scopes,
    extraParams: {},
    missingRefreshHint:
      'request the offline_access scope (provider.scopes) and allow refresh tokens for this client at the provider; some providers (e.g. oidc-provider) also need provider.authorizationParams.prompt: consent',
  };
}

/**
 * Where RP-initiated logout sends the browser, or undefined for "nowhere: show our signed-out
 * page". An explicit `logoutUrl` template wins; then the provider's end_session_endpoint (OIDC
 * RP-Initiated Logout, with `id_token_hint`); then, for Cognito, its hosted UI's /logout, which
 * lives on the origin of the authorization endpoint and takes `client_id` and `logout_uri`.
 */
export function logoutTarget(p: {
  preset: ProviderPreset;
  logoutUrl: string | undefined;
  clientId: string;
  endSessionEndpoint: string | undefined;
  authorizationEndpoint: string | undefined;
  idTokenHint: string | undefined;
  postLogoutRedirectUri: string;
}): { kind: 'template' | 'end_session' | 'cognito'; url: string } | undefined {
  if (p.logoutUrl) {
    const values: Record<string, string> = {
      client_id: p.clientId,
      post_logout_redirect_uri: p.postLogoutRedirectUri,
      id_token_hint: p.idTokenHint ?? '',
    };
    const url = p.logoutUrl.replace(
      /\{(client_id|post_logout_redirect_uri|id_token_hint)\}/g,
      (_, k: string) => encodeURIComponent(values[k]!),
    );
    return { kind: 'template', url };
  }
  if (p.endSessionEndpoint) return { kind: 'end_session', url: p.endSessionEndpoint };
  if (p.preset === 'cognito' && p.authorizationEndpoint) {
    const url = new URL('/logout', new URL(p.authorizationEndpoint).origin);
    url.searchParams.set('client_id', p.clientId);
    url.searchParams.set('logout_uri', p.postLogoutRedirectUri);
    return { kind: 'cognito', url: url.href };
  }
  return undefined;
}
