/**
 * How a provider is asked for offline access (a refresh token), decided once at start-up by the
 * preset (presets/*.ts): the scopes and extra authorization parameters to send, and what to tell
 * the operator when no refresh token arrives anyway.
 */
export interface OfflineAccessPlan {
  scopes: string[];
  extraParams: Record<string, string>;
  /** How to fix a missing refresh token for this provider; logged when none arrives. */
  missingRefreshHint: string;
  /**
   * The provider issues refresh tokens without being asked (no `offline_access`, no parameter):
   * Cognito. `gatehouse doctor` then does not fail a plan that asks for nothing.
   */
  refreshTokenUnasked?: boolean;
}

/** What a preset plans from: the configuration and, with discovery, what the provider lists. */
export interface OfflineAccessRequest {
  /** `provider.scopes` */
  scopes: string[];
  /** `provider.requestOfflineAccess` */
  requestOfflineAccess: boolean;
  /** Discovery's `scopes_supported`; undefined when the provider lists none (or has no discovery). */
  scopesSupported: string[] | undefined;
}

/**
 * The OpenID Connect way: ask for `offline_access` when the provider lists it in
 * `scopes_supported`, and drop it when the provider lists scopes without it (Cognito or GitLab
 * do not list it and may reject it).
 */
export function offlineAccessByDiscovery(req: OfflineAccessRequest): OfflineAccessPlan {
  const { requestOfflineAccess, scopesSupported } = req;
  let scopes = [...req.scopes];
  const listed = scopesSupported?.includes('offline_access');
  if (!requestOfflineAccess) scopes = scopes.filter((s) => s !== 'offline_access');
  else if (!scopes.includes('offline_access') && listed) scopes.push('offline_access');
  else if (scopes.includes('offline_access') && scopesSupported && !listed) {
    scopes = scopes.filter((s) => s !== 'offline_access');
  }
  return {
    scopes,
    extraParams: {},
    missingRefreshHint:
      'request the offline_access scope (provider.scopes) and allow refresh tokens for this client at the provider; some providers (e.g. oidc-provider) also need provider.authorizationParams.prompt: consent',
  };
}
