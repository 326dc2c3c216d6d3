import { discoverOpenIdProvider } from '../openIdConnect.js';
import { hostIs } from './issuerMatch.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ProviderPreset } from './preset.js';

/** Google's own way to ask for a refresh token, also on a repeat login. */
const OFFLINE: Readonly<Record<string, string>> = { access_type: 'offline', prompt: 'consent' };

/**
 * Google: rejects `offline_access`; a refresh token comes with `access_type=offline`, and on a
 * repeat login only with `prompt=consent`. Google always sends `email_verified`.
 */
export const google: ProviderPreset<'google'> = {
  name: 'google',
  matchesIssuer: (issuer) => hostIs(issuer, 'accounts.google.com'),
  issuerPattern: 'issuer host accounts.google.com',
  configProblems: openIdConfigProblems,
  offlineAccess: ({ scopes, requestOfflineAccess }) => ({
    scopes: scopes.filter((s) => s !== 'offline_access'),
    extraParams: requestOfflineAccess ? { ...OFFLINE } : {},
    readiness: requestOfflineAccess
      ? 'requesting access_type=offline and prompt=consent (never offline_access, which Google rejects); a refresh token is expected at every login (an app in the consent screen\'s "Testing" status gets refresh tokens that expire after 7 days)'
      : 'provider.requestOfflineAccess is false: no access_type=offline, so Google issues no refresh token; sessions end when the access token does (1 hour)',
    missingRefreshHint:
      'Google issues refresh tokens only with access_type=offline and, on a repeat login, prompt=consent; use provider.preset: google and keep provider.requestOfflineAccess: true (never request offline_access from Google)',
  }),
  identitySource: discoverOpenIdProvider,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub', 'email'],
  // Any Google account may carry a company address; only `hd` says Workspace vouches for it.
  checksHostedDomain: true,
  sendsEmailVerified: true,
  devIdpProfile: 'google',
};
