import type { GatehouseConfig } from '../config/schema.js';
import type { ProviderPreset } from '../oidc/presets/preset.js';
import { type CheckResult, fail, pass, warn } from './check.js';
import type { ProviderMetadata } from './providerChecks.js';

/**
 * What Gatehouse puts in its authorization request for offline access: the preset's plan
 * (presets/*.ts, from discovery's scopes_supported) with provider.authorizationParams on top —
 * the same merge as OidcProvider.authorizationUrl (oidc/provider.ts).
 */
export function plannedRequest(
  cfg: GatehouseConfig,
  preset: ProviderPreset,
  scopesSupported: string[] | undefined,
) {
  const plan = preset.offlineAccess({
    scopes: cfg.provider.scopes,
    requestOfflineAccess: cfg.provider.requestOfflineAccess,
    scopesSupported,
  });
  return { plan, params: { ...plan.extraParams, ...cfg.provider.authorizationParams } };
}

function describeParams(params: Record<string, string>): string {
  const entries = Object.entries(params);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(' ') : 'no extra parameters';
}

/**
 * Refresh readiness: will a login get a refresh token? The scopes and parameters Gatehouse will
 * send for this preset, whether the provider lists refresh_token and offline_access, and
 * Google's access_type=offline + prompt=consent. (Whether one really comes back needs a real
 * login: `doctor --login`, loginCheck.ts.)
 */
export function refreshReadiness(
  cfg: GatehouseConfig,
  preset: ProviderPreset,
  metadata: ProviderMetadata | undefined,
): CheckResult[] {
  if (!metadata) {
    return [
      warn(
        'refresh.readiness',
        'not checked: the provider’s discovery document could not be read (see provider.discovery)',
        'fix provider.discovery first',
      ),
    ];
  }
  const scopesSupported = Array.isArray(metadata.scopes_supported) ? metadata.scopes_supported : undefined;
  const { plan, params } = plannedRequest(cfg, preset, scopesSupported);
  const out: CheckResult[] = [
    pass(
      'refresh.request',
      `the ${preset.name} preset sends scope="${plan.scopes.join(' ')}" and ${describeParams(params)}`,
    ),
  ];

  const grants = Array.isArray(metadata.grant_types_supported) ? metadata.grant_types_supported : undefined;
  if (!grants) {
    out.push(
      warn(
        'refresh.grant-type',
        'the provider does not list grant_types_supported (RFC 8414 then means authorization_code and implicit only), so it does not say it refreshes',
        'make sure refresh tokens are enabled for this client at the provider',
      ),
    );
  } else if (grants.includes('refresh_token')) {
    out.push(pass('refresh.grant-type', 'the provider lists refresh_token in grant_types_supported'));
  } else {
    out.push(
      fail(
        'refresh.grant-type',
        `the provider lists grant_types_supported without refresh_token (${grants.join(', ')}): sessions end when the access token expires`,
        'enable the refresh_token grant for this client at the provider',
      ),
    );
  }

  const asksOfflineScope = plan.scopes.includes('offline_access');
  const accessTypeOffline = params.access_type === 'offline';
  const promptConsent = (params.prompt ?? '').split(' ').includes('consent');
  const listed = scopesSupported?.includes('offline_access');
  if (asksOfflineScope) {
    out.push(
      listed
        ? pass(
            'refresh.offline-access',
            'offline_access is requested and listed in the provider’s scopes_supported',
          )
        : warn(
            'refresh.offline-access',
            'offline_access is requested, but the provider lists no scopes_supported, so it may not know the scope (or refuse the login with invalid_scope)',
            'check that this provider knows offline_access; else provider.requestOfflineAccess: false and its own way of asking for a refresh token',
          ),
    );
  } else if (accessTypeOffline) {
    out.push(
      promptConsent
        ? pass(
            'refresh.offline-access',
            'access_type=offline with prompt=consent (Google’s way: a refresh token on every login)',
          )
        : warn(
            'refresh.offline-access',
            'access_type=offline without prompt=consent: Google sends a refresh token on a user’s first consent only, so a user who signs in again gets none',
            'provider.preset: google (it adds prompt=consent), or provider.authorizationParams.prompt: consent',
          ),
    );
  } else if (!cfg.provider.requestOfflineAccess) {
    out.push(
      warn(
        'refresh.offline-access',
        'provider.requestOfflineAccess: false — Gatehouse asks for no refresh token, so sessions end when the access token expires',
        'provider.requestOfflineAccess: true, unless sessions are meant to last one access token',
      ),
    );
  } else if (plan.refreshTokenUnasked) {
    out.push(
      pass(
        'refresh.offline-access',
        `no offline_access sent (the provider does not list it): the ${preset.name} preset’s provider issues refresh tokens without it`,
      ),
    );
  } else {
    out.push(
      fail(
        'refresh.offline-access',
        `Gatehouse asks for no refresh token: the provider lists scopes_supported without offline_access, so the ${preset.name} preset does not request it, and no access_type=offline is sent — Google-style providers issue refresh tokens only with access_type=offline and prompt=consent`,
        'for Google: provider.preset: google (it sends access_type=offline and prompt=consent, never offline_access); for Cognito: provider.preset: cognito; for another provider, its own way of asking for offline access in provider.authorizationParams',
      ),
    );
  }
  return out;
}
