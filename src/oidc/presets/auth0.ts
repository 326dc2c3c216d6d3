import { offlineAccessByDiscovery } from '../offlineAccess.js';
import { discoverOpenIdProvider } from '../openIdConnect.js';
import { unionOf } from './claimValues.js';
import { hostUnder } from './issuerMatch.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ClaimShapingContext, ProviderPreset } from './preset.js';

/**
 * Auth0 drops custom claims from tokens unless their names are namespaced URLs
 * (`https://example.com/groups`), set by an Action. The values of every `http(s)://…/<leaf>`
 * claim, in claim order.
 */
function namespaced(claims: Readonly<Record<string, unknown>>, leaf: string): string[] | undefined {
  const names = Object.keys(claims).filter(
    (k) => /^https?:\/\/[^/]+\/(.+\/)?/.test(k) && k.endsWith(`/${leaf}`),
  );
  return names.length ? unionOf(...names.map((k) => claims[k])) : undefined;
}

/**
 * With the preset's claim names (groups, roles), a namespaced `…/groups` and `…/roles` claim is
 * read when the plain one is absent; a claim name the configuration sets is read as written.
 */
function shapeAuth0Claims(
  claims: Readonly<Record<string, unknown>>,
  { mapping }: ClaimShapingContext,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...claims };
  for (const [key, leaf] of [
    ['groupsClaim', 'groups'],
    ['rolesClaim', 'roles'],
  ] as const) {
    if (mapping[key] !== leaf || claims[leaf] !== undefined) continue;
    const found = namespaced(claims, leaf);
    if (found) out[leaf] = found;
  }
  return out;
}

/**
 * Auth0 (`<tenant>.<region>.auth0.com`, or a custom domain with an explicit preset). Its issuer
 * ends in `/`: write it so. Groups and roles come from an Action as namespaced claims
 * (`https://<namespace>/groups`, `/roles`), found by their last path segment. An API access
 * token (for bearer checks upstream) needs `provider.authorizationParams.audience: <API
 * identifier>`; without it Auth0 issues an opaque token for /userinfo only. Logout: Auth0 has an
 * end_session_endpoint only with "RP-Initiated Logout" on in the tenant; otherwise its own
 * `/v2/logout?client_id=&returnTo=` (returnTo listed in the application's Allowed Logout URLs).
 */
export const auth0: ProviderPreset<'auth0'> = {
  name: 'auth0',
  matchesIssuer: (issuer) => hostUnder(issuer, 'auth0.com'),
  issuerPattern: 'issuer host *.auth0.com',
  configProblems: openIdConfigProblems,
  offlineAccess: (req) => ({
    ...offlineAccessByDiscovery(req),
    missingRefreshHint:
      'Auth0 issues a refresh token for offline_access only when the application allows the Refresh Token grant and, with provider.authorizationParams.audience, the API has "Allow Offline Access" on',
  }),
  identitySource: discoverOpenIdProvider,
  logoutTarget: ({ authorizationEndpoint, clientId, postLogoutRedirectUri }) => {
    if (!authorizationEndpoint) return undefined;
    const url = new URL('/v2/logout', new URL(authorizationEndpoint).origin);
    url.searchParams.set('client_id', clientId);
    url.searchParams.set('returnTo', postLogoutRedirectUri);
    return url.href;
  },
  matchUsersBy: ['sub', 'email'],
  shapeClaims: shapeAuth0Claims,
  sendsEmailVerified: true,
  devIdpProfile: 'auth0',
};
