/**
 * Provider quirks around offline access (refresh tokens), decided once at start-up.
 * - generic: ask for `offline_access` when the provider lists it in `scopes_supported`.
 * - google: Google rejects `offline_access`; it wants `access_type=offline`, and issues a refresh
 *   token on a repeat login only with `prompt=consent`.
 */
export interface OfflineAccessPlan {
  scopes: string[];
  extraParams: Record<string, string>;
  /** How to fix a missing refresh token for this provider; logged when none arrives. */
  missingRefreshHint: string;
}

export function planOfflineAccess(
  preset: 'generic' | 'google',
  configuredScopes: string[],
  requestOfflineAccess: boolean,
  scopesSupported: string[] | undefined,
): OfflineAccessPlan {
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
