import { type OfflineAccessRequest, offlineAccessByDiscovery } from '../offlineAccess.js';
import { discoverOpenIdProvider } from '../openIdConnect.js';
import { hostUnder } from './issuerMatch.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ProviderPreset } from './preset.js';

/**
 * The scopes of an Okta login: as generic (offline_access when discovery lists it), plus
 * `groups`, without which Okta sends no groups claim. It is added unless discovery lists scopes
 * without it: a custom authorization server answers `invalid_scope` for a scope it does not
 * have (create a `groups` scope there, with "Include in public metadata", or list it in
 * provider.scopes yourself).
 */
function oktaScopes(req: OfflineAccessRequest) {
  const plan = offlineAccessByDiscovery(req);
  const listed = req.scopesSupported === undefined || req.scopesSupported.includes('groups');
  if (listed && !plan.scopes.includes('groups')) plan.scopes.push('groups');
  return {
    ...plan,
    missingRefreshHint:
      'Okta issues a refresh token only when the app integration allows the Refresh Token grant and offline_access is requested (a custom authorization server also needs an access policy rule that allows it)',
  };
}

/**
 * Okta: the org authorization server (issuer `https://<org>.okta.com`) or a custom one
 * (`https://<org>.okta.com/oauth2/default`, `/oauth2/<id>`; also `*.oktapreview.com` and
 * `*.okta-emea.com`). Groups come in the `groups` claim only when the `groups` scope is
 * requested (the preset asks for it) and a groups claim is set up: on the org server in the app's
 * "Groups claim filter", on a custom server as a claim of type Groups included in the `groups`
 * scope. Access tokens of the org server are for Okta's own APIs only (not verifiable by anyone
 * else): bearer tokens for your APIs need a custom server. Okta sends `email_verified`.
 */
export const okta: ProviderPreset<'okta'> = {
  name: 'okta',
  matchesIssuer: (issuer) => hostUnder(issuer, 'okta.com', 'oktapreview.com', 'okta-emea.com'),
  issuerPattern: 'issuer host *.okta.com, *.oktapreview.com or *.okta-emea.com',
  configProblems: openIdConfigProblems,
  offlineAccess: oktaScopes,
  identitySource: discoverOpenIdProvider,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub', 'email'],
  sendsEmailVerified: true,
  devIdpProfile: 'okta',
};
