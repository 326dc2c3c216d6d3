// The one place a claim rule from outside (admin API or DevIdp.setClaims) is checked: the user
// it names must exist, so a typo fails loudly instead of never matching.
import { type ClaimRule, ClaimsError } from './claimOverrides.js';
import type { IdpContext } from './context.js';

export interface ClaimRuleInput {
  /** Username, e-mail or sub of the user; absent: anyone (then `logins` is required). */
  user?: string | undefined;
  claims: Record<string, unknown>;
  /** Only the next N logins; absent: every later login of `user`. */
  logins?: number | undefined;
}

/** Stores the rule; throws ClaimsError (a 400) on a bad one. */
export function setClaimRule(ctx: IdpContext, input: unknown): ClaimRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ClaimsError('body must be {"user"?: "...", "claims": {...}, "logins"?: N}');
  }
  const { user, claims, logins } = input as Record<string, unknown>;
  let username: string | undefined;
  if (user !== undefined) {
    if (typeof user !== 'string' || user === '') throw new ClaimsError('user must be a non-empty string');
    const found = ctx.users.find(user);
    if (found === undefined) throw new ClaimsError(`no user named "${user}"`);
    username = found.username;
  }
  return ctx.claimOverrides.add({ user: username, claims, logins });
}
