import { offlineAccessByDiscovery } from '../offlineAccess.js';
import { discoverOpenIdProvider } from '../openIdConnect.js';
import { member, unionOf } from './claimValues.js';
import { openIdConfigProblems } from './openIdChecks.js';
import type { ClaimShapingContext, ProviderPreset } from './preset.js';

/** A Keycloak realm's issuer path: `/realms/<realm>`, or `/auth/realms/<realm>` before Keycloak 17. */
const REALM_PATH = /(^|\/)realms\/[^/]+\/?$/;

/**
 * Roles Keycloak gives every user of a realm by default: they authorize nothing, and would
 * put `offline_access,uma_authorization,default-roles-<realm>` into every X-Forwarded-Groups.
 */
function isDefaultRealmRole(role: string): boolean {
  return role === 'offline_access' || role === 'uma_authorization' || role.startsWith('default-roles-');
}

/** Realm roles (without the defaults) and this client's roles, realm roles first. */
function keycloakRoles(claims: Readonly<Record<string, unknown>>, clientId: string): string[] {
  const realm = unionOf(member(claims.realm_access, 'roles')).filter((r) => !isDefaultRealmRole(r));
  const client = unionOf(member(member(claims.resource_access, clientId), 'roles'));
  return unionOf(realm, client);
}

/**
 * Keycloak's group mapper sends full paths (`/admins`, `/eng/backend`) unless "Full group path"
 * is off: the leading `/` is dropped, so `allowedGroups: [admins]` matches the top-level group
 * `/admins` while a subgroup keeps its parent (`eng/backend`), never confused with another
 * `backend`.
 */
function groupName(path: string): string {
  return path.startsWith('/') ? path.slice(1) : path;
}

/**
 * With the preset's claim names (groups, roles): groups = the group mapper's groups + realm roles
 * + this client's roles; roles = realm roles + this client's roles. A claim name the
 * configuration sets (e.g. `groupsClaim: realm_access.roles`) is read as written, unshaped.
 */
function shapeKeycloakClaims(
  claims: Readonly<Record<string, unknown>>,
  { clientId, mapping }: ClaimShapingContext,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...claims };
  const roles = keycloakRoles(claims, clientId);
  if (mapping.groupsClaim === 'groups') {
    out.groups = unionOf(unionOf(claims.groups).map(groupName), roles);
  }
  if (mapping.rolesClaim === 'roles') out.roles = unionOf(claims.roles, roles);
  return out;
}

/**
 * Keycloak (and Red Hat build of Keycloak / RH-SSO): issuer `https://<host>/realms/<realm>`
 * (`/auth/realms/<realm>` before Keycloak 17). Realm and client roles (`realm_access.roles`,
 * `resource_access.<clientId>.roles`) become groups and roles; a Group Membership mapper's
 * `groups` are added without their leading `/`. On its defaults Keycloak puts the roles into the
 * access token only (the `roles` client scope's mappers have "Add to ID token" off): they are
 * read from there (a JWT signed by the realm) when the ID token and userinfo lack them.
 * `offline_access` (listed in discovery) gets an offline token that outlives the SSO session;
 * without it Keycloak's refresh token ends with the SSO session (30 minutes idle by default).
 */
export const keycloak: ProviderPreset<'keycloak'> = {
  name: 'keycloak',
  matchesIssuer: (issuer) => REALM_PATH.test(issuer.pathname),
  issuerPattern: 'issuer path /realms/<realm>',
  configProblems: openIdConfigProblems,
  offlineAccess: (req) => {
    const plan = offlineAccessByDiscovery(req);
    return {
      ...plan,
      readiness: plan.scopes.includes('offline_access')
        ? `${plan.readiness} — an offline token, which outlives the Keycloak SSO session`
        : `${plan.readiness}; Keycloak issues one anyway, ending with the SSO session (SSO Session Idle, 30 minutes by default)`,
      missingRefreshHint:
        'Keycloak issues refresh tokens unless the client has "Use refresh tokens" off (Advanced settings); offline_access also needs the realm role offline_access (in default-roles-<realm> unless removed)',
    };
  },
  identitySource: discoverOpenIdProvider,
  logoutTarget: () => undefined,
  matchUsersBy: ['sub', 'email'],
  shapeClaims: shapeKeycloakClaims,
  accessTokenClaims: ['realm_access', 'resource_access'],
  // Keycloak sends email_verified with every email (the user's "Email verified" switch).
  sendsEmailVerified: true,
  devIdpProfile: 'keycloak',
};
