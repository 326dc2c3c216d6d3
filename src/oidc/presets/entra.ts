import { discoverEntra } from '../entra/connection.js';
import { issuerTenantId, tenancyOf } from '../entra/tenancy.js';
import { isLoopbackHostname } from '../insecureTransport.js';
import { offlineAccessByDiscovery } from '../offlineAccess.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { PresetConfigView, ProviderPreset } from './preset.js';

/** The login hosts of Entra ID's clouds (global, US Government, China) and the v1 token issuer. */
const ENTRA_HOSTS: ReadonlySet<string> = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'sts.windows.net',
]);

function entraConfigProblems(c: PresetConfigView): string[] {
  const problems = openIdConfigProblems(c);
  const p = c.provider;
  const tenants = p.entra?.tenants;
  const tenancy = tenancyOf(p.issuer);
  if (tenancy.kind === 'multi' && !tenants) {
    problems.push(
      `provider.entra.tenants: required with the multi-tenant issuer ${p.issuer} (${tenancy.segment}): without it a user of any Microsoft tenant could sign in — list the tenant ids allowed (the tid claim, a GUID), e.g. provider.entra.tenants: ["<your tenant id>"] (env GATEHOUSE_PROVIDER_ENTRA_TENANTS), or use the single-tenant issuer https://login.microsoftonline.com/<tenant id>/v2.0`,
    );
  }
  const own = issuerTenantId(p.issuer);
  if (tenancy.kind === 'single' && tenants && own && !(tenants.length === 1 && tenants[0] === own)) {
    problems.push(
      `provider.entra.tenants: the issuer is the single tenant ${own}, whose tokens only ever carry that tid — remove provider.entra.tenants, or use the multi-tenant issuer .../organizations/v2.0 to admit several tenants`,
    );
  }
  if (!p.scopes.includes('profile')) {
    problems.push(
      'provider.scopes: must include "profile" with preset entra — Entra puts oid (with tid, the stable subject) in the ID token only with the profile scope',
    );
  }
  const graph = p.entra?.graphUrl ? new URL(p.entra.graphUrl) : undefined;
  if (graph?.protocol === 'http:' && !isLoopbackHostname(graph.hostname) && !p.allowInsecureIssuer) {
    problems.push(
      `provider.entra.graphUrl: ${graph.origin} is plain http off loopback — the users' access tokens would cross the network in clear; use https`,
    );
  }
  if (p.claimSourceHosts !== undefined) {
    problems.push(
      'provider.claimSourceHosts: not used with preset entra (group overage is read from Microsoft Graph at provider.entra.graphUrl, never from the URL in the token) — remove it',
    );
  }
  return problems;
}

/**
 * Microsoft Entra ID (Azure AD), v2 endpoints: `https://login.microsoftonline.com/<tenant>/v2.0`.
 * - Users are `<tid>/<oid>` (directory and object id): Entra's `sub` is pairwise per application
 *   and its `email` is an unverified, tenant-editable attribute, so neither identifies anyone
 *   across apps; `matchUsersBy` defaults to `sub` alone (which is that stable subject).
 * - Multi-tenant issuers (`common`, `organizations`) need `provider.entra.tenants`; each token's
 *   `iss` must be the template with its own `tid` (entra/tenantGrants.ts).
 * - Group overage (`_claim_names.groups`, `hasgroups`): groups from Microsoft Graph
 *   `/me/transitiveMemberOf` with the access token (entra/graphGroups.ts), never the token's URL.
 * - App roles arrive in `roles`, the default roles claim.
 */
export const entra: ProviderPreset<'entra'> = {
  name: 'entra',
  configProblems: entraConfigProblems,
  offlineAccess: offlineAccessByDiscovery,
  identitySource: discoverEntra,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub'],
  sendsEmailVerified: false,
  devIdpProfile: 'entra',
  matchesIssuer: (issuer) => ENTRA_HOSTS.has(issuer.hostname.toLowerCase()),
  issuerPattern:
    'an Entra ID login host (login.microsoftonline.com, .us, login.chinacloudapi.cn, sts.windows.net)',
  subjectClaims: ['tid', 'oid'],
};
