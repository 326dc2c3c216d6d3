import type { Identity } from '../identity/identity.js';
import { ruleCovers } from './pathPrefix.js';
import type { PathReadings } from './pathReadings.js';

export interface AccessRule {
  allowedEmailDomains: string[];
  allowedUsers: string[];
  allowedGroups: string[];
  allowedRoles: string[];
}

/**
 * What an `allowedUsers` entry is compared with. Only `sub` is stable (OIDC Core §5.7); `email`
 * counts only when the provider says it is verified; `preferred_username` is neither unique nor
 * stable; `login` is GitHub's login (preset github, where it is the preferred username).
 */
export type UserMatchField = 'sub' | 'email' | 'preferred_username' | 'login';

/** `matchUsersBy` when a policy names none (the loader fills in the provider preset's own default). */
const DEFAULT_MATCH_USERS_BY: readonly UserMatchField[] = ['sub', 'email'];

export interface AuthorizationPolicy extends AccessRule {
  /** Also lets an unverified address match `allowedUsers`/`allowedEmailDomains` (escape hatch). */
  allowUnverifiedEmail: boolean;
  /**
   * `allowedEmailDomains` also needs the identity's hosted domain (Google Workspace `hd`) to be
   * one of them: any Google account can carry a company address, only `hd` says the company's
   * Workspace manages it. Set by the loader from the preset (google).
   */
  requireHostedDomain?: boolean | undefined;
  /** Default `[sub, email]` (the loader resolves the preset's default). */
  matchUsersBy?: readonly UserMatchField[] | undefined;
  rules: Array<
    AccessRule & {
      pathPrefix: string;
      /** Match the prefix by exact case; by default `/admin` also covers `/Admin` (as Express routes). */
      caseSensitive?: boolean;
      /** Scopes the credential must grant, all of them (a bearer token's scope/scp, a session's granted scopes). */
      requiredScopes?: readonly string[];
    }
  >;
}

export type AuthzResult =
  | { ok: true }
  | {
      ok: false;
      reason: string;
      /** Set when the denial is a rule's requiredScopes: the scopes that rule needs (RFC 6750 `scope`). */
      requiredScopes?: readonly string[];
    };

const OK: AuthzResult = { ok: true };

/** A rule's identity lists, prepared once per policy so checkRule allocates nothing. */
interface CompiledRule {
  users: ReadonlySet<string>;
  domains: ReadonlySet<string>;
  bySub: boolean;
  byEmail: boolean;
  byUsername: boolean;
  trustUnverifiedEmail: boolean;
  requireHostedDomain: boolean;
}

const compiledRules = new WeakMap<AccessRule, CompiledRule>();

function compileRule(
  rule: AccessRule,
  policy: Pick<AuthorizationPolicy, 'allowUnverifiedEmail' | 'matchUsersBy' | 'requireHostedDomain'>,
): CompiledRule {
  const by = policy.matchUsersBy ?? DEFAULT_MATCH_USERS_BY;
  const c: CompiledRule = {
    users: new Set(rule.allowedUsers),
    domains: new Set(rule.allowedEmailDomains.map((d) => d.toLowerCase())),
    bySub: by.includes('sub'),
    byEmail: by.includes('email'),
    byUsername: by.includes('preferred_username') || by.includes('login'),
    trustUnverifiedEmail: policy.allowUnverifiedEmail,
    requireHostedDomain: policy.requireHostedDomain === true,
  };
  compiledRules.set(rule, c);
  return c;
}

/** Prepares the policy and all its rules (once; the configuration object is the key). */
function compilePolicy(policy: AuthorizationPolicy): void {
  compileRule(policy, policy);
  for (const rule of policy.rules) compileRule(rule, policy);
}

/** An address counts only when the provider vouches for it (the nOAuth takeover, OIDC Core §5.7). */
function trustedEmail(id: Identity, c: CompiledRule): string | undefined {
  return id.email !== undefined && (id.emailVerified === true || c.trustUnverifiedEmail)
    ? id.email
    : undefined;
}

/**
 * One rule: each non-empty list is a requirement (AND across lists); within a list any match is
 * enough (OR). An empty rule allows every authenticated user. Identities match only by stable or
 * verified identifiers: `sub`, a verified e-mail, and a username only where `matchUsersBy` says so.
 */
function checkRule(id: Identity, rule: AccessRule, what: string): AuthzResult {
  const c = compiledRules.get(rule) ?? compileRule(rule, { allowUnverifiedEmail: false });
  if (c.domains.size) {
    const email = trustedEmail(id, c);
    const at = email === undefined ? -1 : email.lastIndexOf('@');
    if (email === undefined || at < 0 || !c.domains.has(email.slice(at + 1).toLowerCase())) {
      return {
        ok: false,
        reason:
          id.email !== undefined && email === undefined
            ? `your email address is not verified by the identity provider, so it cannot grant access ${what}`
            : `your email domain is not allowed ${what}`,
      };
    }
    const hd = id.hostedDomain?.toLowerCase();
    if (c.requireHostedDomain && (hd === undefined || !c.domains.has(hd))) {
      return {
        ok: false,
        reason: `your account is not managed by an allowed organisation (hosted domain${hd ? ` ${hd}` : ' missing'}), so its email domain cannot grant access ${what}`,
      };
    }
  }
  if (c.users.size) {
    const email = c.byEmail ? trustedEmail(id, c) : undefined;
    const matched =
      (c.bySub && c.users.has(id.sub)) ||
      (email !== undefined && c.users.has(email)) ||
      (c.byUsername && id.preferredUsername !== undefined && c.users.has(id.preferredUsername));
    if (!matched) {
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

/**
 * Whether `id` may have the request whose path reads as `readings` (computed once per request by
 * the caller, who also matched skipAuth on them). `scopes`: what the credential grants; a rule's
 * `requiredScopes` must all be among them (none granted: every such rule denies — fail closed).
 */
export function authorize(
  policy: AuthorizationPolicy,
  id: Identity,
  readings: PathReadings,
  scopes: readonly string[] = [],
): AuthzResult {
  if (!compiledRules.has(policy)) compilePolicy(policy);
  if (id.email && id.emailVerified === false && !policy.allowUnverifiedEmail) {
    return { ok: false, reason: 'your email address is not verified with the identity provider' };
  }
  const global = checkRule(id, policy, 'to use this application');
  if (!global.ok) return global;
  // Every matching rule must pass, so a broad rule cannot widen a narrower one.
  // A rule applies when any reading of the path falls under it, in any case unless the rule is
  // case-sensitive (the strict side for restrictions).
  for (const rule of policy.rules) {
    if (ruleCovers(readings, rule.pathPrefix, rule.caseSensitive)) {
      const r = checkRule(id, rule, `on ${rule.pathPrefix}`);
      if (!r.ok) return r;
      const need = rule.requiredScopes;
      if (need?.length && !need.every((sc) => scopes.includes(sc))) {
        const missing = need.filter((sc) => !scopes.includes(sc));
        return {
          ok: false,
          reason: `the credential lacks the scope${missing.length > 1 ? 's' : ''} required on ${rule.pathPrefix} (${missing.join(' ')})`,
          requiredScopes: need,
        };
      }
    }
  }
  return OK;
}
