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
  /**
   * The start-up line on refresh tokens: what is asked for to get one and whether one is
   * expected. Unset: described from `scopes` and `extraParams` (refreshReadiness).
   */
  readiness?: string;
}

/** The start-up readiness line of a plan (OidcProvider logs it once the provider is reached). */
export function refreshReadiness(plan: OfflineAccessPlan): string {
  if (plan.readiness) return plan.readiness;
  const params = Object.entries(plan.extraParams).map(([k, v]) => `${k}=${v}`);
  const asked = [...(plan.scopes.includes('offline_access') ? ['scope offline_access'] : []), ...params];
  return asked.length
    ? `requesting ${asked.join(' and ')}; a refresh token is expected`
    : 'nothing is requested for offline access; a refresh token comes only if the provider issues one anyway';
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
  let readiness: string;
  if (!requestOfflineAccess) {
    scopes = scopes.filter((s) => s !== 'offline_access');
    readiness =
      'provider.requestOfflineAccess is false: offline_access is not requested; a refresh token comes only if the provider issues one anyway';
  } else if (scopes.includes('offline_access') && scopesSupported && !listed) {
    scopes = scopes.filter((s) => s !== 'offline_access');
    readiness =
      "offline_access is not in the provider's scopes_supported, so it is not requested; a refresh token comes only if the provider issues one without it";
  } else {
    if (!scopes.includes('offline_access') && listed) scopes.push('offline_access');
    readiness = scopes.includes('offline_access')
      ? `requesting scope offline_access (${listed ? 'listed in discovery' : 'as configured; discovery lists no scopes'}); a refresh token is expected`
      : 'offline_access is neither configured nor listed in discovery; a refresh token comes only if the provider issues one anyway';
  }
  return {
    scopes,
    extraParams: {},
    readiness,
    missingRefreshHint:
      'request the offline_access scope (provider.scopes) and allow refresh tokens for this client at the provider; some providers (e.g. oidc-provider) also need provider.authorizationParams.prompt: consent',
  };
}
