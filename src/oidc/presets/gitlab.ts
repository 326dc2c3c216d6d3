import { offlineAccessByDiscovery } from '../offlineAccess.js';
import { discoverOpenIdProvider } from '../openIdConnect.js';
import { unionOf } from './claimValues.js';
import { hostIs } from './issuerMatch.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ClaimShapingContext, ProviderPreset } from './preset.js';

/**
 * GitLab's ID token has `groups_direct` (direct memberships only); its userinfo has `groups`
 * (every group the user belongs to, directly or through a parent group, as full paths). The
 * preset reads `groups` — so with `useUserinfo: auto` userinfo is read, the ID token lacking it —
 * and falls back to `groups_direct` when no userinfo came (`useUserinfo: false`).
 */
function shapeGitlabClaims(
  claims: Readonly<Record<string, unknown>>,
  { mapping }: ClaimShapingContext,
): Record<string, unknown> {
  if (mapping.groupsClaim !== 'groups' || claims.groups !== undefined || claims.groups_direct === undefined) {
    return { ...claims };
  }
  return { ...claims, groups: unionOf(claims.groups_direct) };
}

/**
 * GitLab (gitlab.com, or self-hosted: a host starting with `gitlab.` is recognised, any other
 * needs `provider.preset: gitlab`). Register an application with the scopes openid, profile and
 * email. GitLab does not list `offline_access` and always issues a refresh token; it sends
 * `email_verified`.
 */
export const gitlab: ProviderPreset<'gitlab'> = {
  name: 'gitlab',
  matchesIssuer: (issuer) =>
    hostIs(issuer, 'gitlab.com') || issuer.hostname.toLowerCase().startsWith('gitlab.'),
  issuerPattern: 'issuer host gitlab.com or gitlab.*',
  configProblems: openIdConfigProblems,
  offlineAccess: (req) => ({
    ...offlineAccessByDiscovery(req),
    refreshTokenUnasked: true,
    readiness:
      'GitLab issues a refresh token with every authorization code grant (it does not know offline_access); a refresh token is expected',
    missingRefreshHint:
      'GitLab issues a refresh token with every authorization code grant; check that the application is confidential and the token endpoint is reachable',
  }),
  identitySource: discoverOpenIdProvider,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub', 'email'],
  shapeClaims: shapeGitlabClaims,
  sendsEmailVerified: true,
  devIdpProfile: 'gitlab',
};
