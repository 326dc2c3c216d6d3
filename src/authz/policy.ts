import { pathReadings } from '../engine/normalizePath.js';
import type { Identity } from '../identity/identity.js';

export interface AccessRule {
  allowedEmailDomains: string[];
  allowedUsers: string[];
  allowedGroups: string[];
  allowedRoles: string[];
}

export interface AuthorizationPolicy extends AccessRule {
  allowUnverifiedEmail: boolean;
  rules: Array<AccessRule & { pathPrefix: string }>;
}

export type AuthzResult = { ok: true } | { ok: false; reason: string };

const OK: AuthzResult = { ok: true };

/**
 * One rule: each non-empty list is a requirement (AND across lists); within a list any match is
 * enough (OR). An empty rule allows every authenticated user.
 */
function checkRule(id: Identity, rule: AccessRule, what: string): AuthzResult {
  if (rule.allowedEmailDomains.length) {
    const domain = id.email?.split('@').pop()?.toLowerCase();
    if (!domain || !rule.allowedEmailDomains.some((d) => d.toLowerCase() === domain)) {
      return { ok: false, reason: `your email domain is not allowed ${what}` };
    }
  }
  if (rule.allowedUsers.length) {
    const names = [id.user, id.email, id.preferredUsername, id.sub].filter(Boolean);
    if (!rule.allowedUsers.some((u) => names.includes(u))) {
      return { ok: false, reason: `your account is not on the list of users allowed ${what}` };
    }
  }
  if (rule.allowedGroups.length && !rule.allowedGroups.some((g) => id.groups.includes(g))) {
    return {
      ok: false,
      reason: `you are not a member of a group allowed ${what} (${rule.allowedGroups.join(', ')})`,
    };
  }
  if (rule.allowedRoles.length && !rule.allowedRoles.some((r) => id.roles.includes(r))) {
    return { ok: false, reason: `you do not have a role allowed ${what} (${rule.allowedRoles.join(', ')})` };
  }
  return OK;
}

/** Path-prefix matching on segment boundaries: `/admin` covers `/admin` and `/admin/x`, not `/administrator`. */
function hasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(`${p}/`) || (prefix.endsWith('/') && path.startsWith(prefix));
}

/**
 * True when *every* way an upstream may read `path` (see pathReadings) is under `prefix` — the
 * safe reading for exemptions such as skipAuth.
 */
export function pathHasPrefix(path: string, prefix: string): boolean {
  return pathReadings(path).every((p) => hasPrefix(p, prefix));
}

export function authorize(policy: AuthorizationPolicy, id: Identity, rawPath: string): AuthzResult {
  const readings = pathReadings(rawPath);
  if (id.email && id.emailVerified === false && !policy.allowUnverifiedEmail) {
    return { ok: false, reason: 'your email address is not verified with the identity provider' };
  }
  const global = checkRule(id, policy, 'to use this application');
  if (!global.ok) return global;
  // Every matching rule must pass, so a broad rule cannot widen a narrower one.
  // A rule applies when any reading of the path falls under it (the strict side for restrictions).
  for (const rule of policy.rules) {
    if (readings.some((p) => hasPrefix(p, rule.pathPrefix))) {
      const r = checkRule(id, rule, `on ${rule.pathPrefix}`);
      if (!r.ok) return r;
    }
  }
  return OK;
}
