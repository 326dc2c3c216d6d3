import { offlineAccessByDiscovery } from '../offlineAccess.js';
import { discoverOpenIdProvider } from '../openIdConnect.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ProviderPreset } from './preset.js';

/**
 * Amazon Cognito: offline access as generic (Cognito does not list `offline_access` and issues
 * refresh tokens anyway). It has no end_session_endpoint: logout goes to its hosted UI's
 * /logout, on the origin of the authorization endpoint, with `client_id` and `logout_uri`.
 * Cognito sends `email_verified` for its `email` attribute.
 */
export const cognito: ProviderPreset<'cognito'> = {
  name: 'cognito',
  matchesIssuer: (issuer) => /^cognito-idp\.[a-z0-9-]+\.amazonaws\.com$/.test(issuer.hostname.toLowerCase()),
  issuerPattern: 'issuer host cognito-idp.<region>.amazonaws.com',
  configProblems: openIdConfigProblems,
  offlineAccess: (req) => ({
    ...offlineAccessByDiscovery(req),
    refreshTokenUnasked: true,
    readiness:
      'Cognito issues a refresh token with every authorization code grant (no scope asks for it; offline_access is not sent); a refresh token is expected',
  }),
  identitySource: discoverOpenIdProvider,
  logoutTarget: ({ authorizationEndpoint, clientId, postLogoutRedirectUri }) => {
    if (!authorizationEndpoint) return undefined;
    const url = new URL('/logout', new URL(authorizationEndpoint).origin);
    url.searchParams.set('client_id', clientId);
    url.searchParams.set('logout_uri', postLogoutRedirectUri);
    return url.href;
  },
  matchUsersBy: ['sub', 'email'],
  sendsEmailVerified: true,
  devIdpProfile: 'cognito',
};
