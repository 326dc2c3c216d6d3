import { offlineAccessByDiscovery } from '../offlineAccess.js';
import { discoverOpenIdProvider } from '../openIdConnect.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ProviderPreset } from './preset.js';

/**
 * Any OpenID Connect provider with discovery: `offline_access` when discovery lists it, logout
 * through its end_session_endpoint (or our signed-out page). It may not send `email_verified`,
 * and then no address is trusted.
 */
export const generic: ProviderPreset<'generic'> = {
  name: 'generic',
  // What `auto` falls back to: it never claims an issuer itself.
  matchesIssuer: () => false,
  configProblems: openIdConfigProblems,
  offlineAccess: offlineAccessByDiscovery,
  identitySource: discoverOpenIdProvider,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub', 'email'],
  sendsEmailVerified: false,
  devIdpProfile: undefined,
};
