import { DEFAULT_CLAIM_MAPPING } from '../../identity/identity.js';
import { githubScopes } from '../github.js';
import { configureGithub } from '../githubOAuth.js';
import { hostIs } from './issuerMatch.js';
import type { PresetConfigView, ProviderPreset } from './preset.js';

/** GitHub's identity is shaped by Gatehouse: other claim names, or userinfo, would silently find nothing. */
function githubConfigProblems(c: PresetConfigView): string[] {
  const problems: string[] = [];
  for (const key of ['groupsClaim', 'usernameClaim', 'emailClaim'] as const) {
    const written = c.provider[key];
    if (written !== undefined && written !== DEFAULT_CLAIM_MAPPING[key]) {
      problems.push(
        `provider.${key}: not used with preset github (identity comes from GitHub's API as groups, preferred_username and email) — remove it`,
      );
    }
  }
  if (c.provider.useUserinfo === true) {
    problems.push(
      'provider.useUserinfo: not used with preset github (GitHub has no userinfo endpoint) — remove it',
    );
  }
  return problems;
}

/**
 * GitHub (github.com, or GitHub Enterprise Server at the issuer URL): OAuth 2.0 only, so no
 * `openid` scope and no ID token; identity from its REST API (githubOAuth.ts), with
 * `email_verified` set from /user/emails. Refresh tokens come with GitHub App user tokens, never
 * from a scope. `allowedUsers` entries match the login as documented.
 */
export const github: ProviderPreset<'github'> = {
  name: 'github',
  // GitHub Enterprise Server lives at any host: name the preset for it.
  matchesIssuer: (issuer) => hostIs(issuer, 'github.com'),
  issuerPattern: 'issuer host github.com',
  configProblems: githubConfigProblems,
  offlineAccess: ({ scopes }) => ({
    scopes: githubScopes(scopes),
    extraParams: {},
    readiness:
      'nothing to request: a GitHub App with expiring user tokens issues a refresh token, an OAuth app does not (its token does not expire; the session lasts session.maxAgeSeconds)',
    missingRefreshHint:
      'GitHub issues refresh tokens only for GitHub Apps with expiring user tokens; an OAuth app token does not expire, so its session lasts session.maxAgeSeconds',
  }),
  identitySource: configureGithub,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub', 'login'],
  sendsEmailVerified: true,
  devIdpProfile: 'github',
};
