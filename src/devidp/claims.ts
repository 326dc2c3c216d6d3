// Identity claims, shaped the way real providers shape them. Group claims are where gateways
// break most (LESSONS.md, "Claims"), so each shape below is one provider's actual habit.
import type { IdpContext } from './context.js';
import { entraGroupId, entraIdentityClaims } from './entra.js';
import type { DevUser } from './types.js';

export const NAMESPACE = 'https://example.com/';
/** The quoted value that makes a naive split(',') wrong under groups-string. */
export const CSV_TRICKY_GROUP = 'Ops, EMEA';
export const HUGE_GROUP_COUNT = 600;

function hugeGroups(): string[] {
  return Array.from(
    { length: HUGE_GROUP_COUNT },
    (_, i) => `group-${String(i + 1).padStart(4, '0')}-some-long-team-name`,
  );
}

/** RFC 4180 quoting: only values with a comma, quote, line break or edge spaces get quoted. */
export function toCsv(values: readonly string[]): string {
  return values.map((v) => (/[",\r\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',');
}

/** The user's groups after the profiles that change membership (not shape). */
export function effectiveGroups(ctx: IdpContext, user: DevUser, viaRefresh: boolean): string[] {
  let groups = [...user.groups];
  // Reproduces a user removed from a group while logged in: only a refresh can reveal it.
  if (viaRefresh && ctx.profiles.has('refresh-loses-group')) groups = groups.filter((g) => g !== 'admins');
  if (ctx.profiles.has('groups-string')) groups.push(CSV_TRICKY_GROUP);
  if (ctx.profiles.has('huge-groups')) groups.push(...hugeGroups());
  return groups;
}

function groupValue(ctx: IdpContext, groups: string[]): unknown {
  if (ctx.profiles.has('entra')) return groups.map(entraGroupId); // object ids, never names
  // Keycloak's Group Membership mapper sends full paths unless "Full group path" is off.
  if (ctx.profiles.has('keycloak')) return groups.map((g) => `/${g}`);
  if (ctx.profiles.has('groups-string')) return toCsv(groups); // Okta/ADFS custom mappers
  if (ctx.profiles.has('single-group-string')) return groups[0]; // ADFS with one group
  return groups;
}

function groupClaimName(ctx: IdpContext): string {
  if (ctx.profiles.has('member-of-groups')) return 'memberOf'; // LDAP-backed IdPs
  if (ctx.profiles.has('namespaced-claims') || ctx.profiles.has('auth0')) return `${NAMESPACE}groups`; // Auth0 actions
  return 'groups';
}

/**
 * Okta sends groups only when the `groups` scope was requested; GitLab puts direct memberships
 * as `groups_direct` into the ID token and all of them as `groups` into userinfo.
 */
function plainGroupClaims(
  ctx: IdpContext,
  groups: string[],
  target: ClaimTarget,
  scope: string | undefined,
): Record<string, unknown> {
  if (ctx.profiles.has('okta') && !(scope ?? '').split(' ').includes('groups')) return {};
  const value = groupValue(ctx, groups);
  if (value === undefined) return {};
  if (ctx.profiles.has('gitlab') && target !== 'userinfo') return { groups_direct: value };
  return { [groupClaimName(ctx)]: value };
}

/** Entra ID above 200 groups: the claim is replaced by a pointer to a distributed claim source. */
function overageClaims(ctx: IdpContext, user: DevUser): Record<string, unknown> {
  return {
    _claim_names: { groups: 'src1' },
    _claim_sources: {
      src1: {
        endpoint: (ctx.options.claimSourceEndpoint ?? `${ctx.issuer}/groups/{sub}`).replace(
          '{sub}',
          encodeURIComponent(user.sub),
        ),
      },
    },
  };
}

function roleClaims(ctx: IdpContext, user: DevUser, target: ClaimTarget): Record<string, unknown> {
  // Keycloak on its defaults: the `roles` client scope's mappers add to the access token only.
  if (ctx.profiles.has('keycloak') && !ctx.profiles.has('keycloak-roles') && target !== 'access_token') {
    return {};
  }
  if (ctx.profiles.has('keycloak-roles') || ctx.profiles.has('keycloak')) {
    // Keycloak always adds its default realm roles next to the assigned ones.
    const realm = [...user.roles, 'offline_access', 'uma_authorization', 'default-roles-dev'];
    return {
      realm_access: { roles: realm },
      resource_access: { [ctx.options.clientId]: { roles: [...user.roles] } },
    };
  }
  if (ctx.profiles.has('namespaced-claims') || ctx.profiles.has('auth0')) {
    return { [`${NAMESPACE}roles`]: [...user.roles] };
  }
  return { roles: [...user.roles] };
}

/** Access tokens carry what the ID token carries (userinfo-groups keeps groups out of both). */
export type ClaimTarget = 'id_token' | 'access_token' | 'userinfo';

/**
 * Everything about the user except the protocol claims (iss, aud, exp, ...). The ID token and
 * userinfo differ only where a profile says so (userinfo-groups, userinfo-sub-mismatch).
 */
export function identityClaims(
  ctx: IdpContext,
  user: DevUser,
  target: ClaimTarget,
  viaRefresh: boolean,
  /** The grant's scope (the okta profile's groups claim depends on it). */
  scope?: string,
): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    email: user.email,
    email_verified: user.email_verified ?? true,
    name: user.name,
    preferred_username: user.username,
    ...roleClaims(ctx, user, target),
    // Google sends `hd` for a Workspace account only: a consumer account may carry any address.
    ...(ctx.profiles.has('google') && user.hd !== undefined ? { hd: user.hd } : {}),
  };
  // Entra ID sends `email` with no `email_verified`, and a tenant admin can set any address:
  // the nOAuth takeover of apps that trust it.
  if (ctx.profiles.has('no-email-verified')) delete claims.email_verified;
  if (ctx.profiles.has('entra')) {
    delete claims.email_verified;
    Object.assign(claims, entraIdentityClaims(user));
  }
  if (ctx.profiles.has('no-groups-claim')) return claims;
  const groups = effectiveGroups(ctx, user, viaRefresh);
  const userinfoGroups = ctx.profiles.has('userinfo-groups');
  if (target !== 'userinfo' && userinfoGroups) return claims;
  if (ctx.profiles.has('azure-group-overage') && !(target === 'userinfo' && userinfoGroups)) {
    return { ...claims, ...overageClaims(ctx, user) };
  }
  return { ...claims, ...plainGroupClaims(ctx, groups, target, scope) };
}
