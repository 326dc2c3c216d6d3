import type { AccessRule, AuthorizationPolicy, UserMatchField } from './policy.js';

/**
 * What the warnings need to know of the provider; its preset (oidc/presets/*.ts) declares it.
 * A provider that does not always send `email_verified` (generic) matches no address then.
 */
export interface ProviderIdentityFacts {
  /** The `provider.preset` name, for the message. */
  name: string;
  /** `authorization.matchUsersBy` when unset. */
  matchUsersBy: readonly UserMatchField[];
  sendsEmailVerified: boolean;
}

/**
 * Could `entry` be a subject? Subjects are opaque, so this only recognises the common shapes:
 * UUIDs (Keycloak, Entra `oid`), long digit strings (Google), `provider|id` (Auth0),
 * `host/id` (Gatehouse's GitHub subjects), and long mixed letter-digit ids (Okta `00u…`).
 */
export function plausibleSubject(entry: string): boolean {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(entry)) return true;
  if (/^\d{6,}$/.test(entry)) return true;
  if (/[|/:]/.test(entry)) return true;
  return entry.length >= 16 && /\d/.test(entry) && /[a-z]/i.test(entry);
}

function quoteList(values: string[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/**
 * Start-up warnings for rules that match fewer users than before `allowedUsers` and
 * `allowedEmailDomains` were limited to stable, verified identifiers (issue 8, item 12): one
 * line per rule and kind, naming the rule and the fix. Pure, so it is unit-tested; the gateway
 * logs each line at warn when it starts.
 */
export function identityMatchWarnings(
  authz: Pick<AuthorizationPolicy, keyof AccessRule | 'allowUnverifiedEmail' | 'matchUsersBy' | 'rules'>,
  preset: ProviderIdentityFacts,
): string[] {
  const by = authz.matchUsersBy ?? preset.matchUsersBy;
  const byEmail = by.includes('email');
  const byUsername = by.includes('preferred_username') || by.includes('login');
  const verifiedKnown = preset.sendsEmailVerified || authz.allowUnverifiedEmail;
  const out: string[] = [];
  const located: Array<[string, AccessRule]> = [
    ['authorization', authz],
    ...authz.rules.map((r, i): [string, AccessRule] => [`authorization.rules[${i}] (${r.pathPrefix})`, r]),
  ];
  for (const [where, rule] of located) {
    const emails = rule.allowedUsers.filter((u) => u.includes('@'));
    const names = rule.allowedUsers.filter((u) => !u.includes('@') && !plausibleSubject(u));
    if (emails.length && !byEmail) {
      out.push(
        `${where}.allowedUsers: ${quoteList(emails)} ${emails.length > 1 ? 'are e-mail addresses' : 'is an e-mail address'}, which authorization.matchUsersBy (${by.join(', ')}) does not compare — nobody matches ${emails.length > 1 ? 'them' : 'it'}; add email to matchUsersBy (verified addresses only) or list subjects`,
      );
    } else if (emails.length && !verifiedKnown) {
      out.push(
        `${where}.allowedUsers: ${quoteList(emails)} now ${emails.length > 1 ? 'match' : 'matches'} only an address the provider marks verified (email_verified: true); a provider that does not send email_verified matches nobody — list subjects, or set authorization.allowUnverifiedEmail: true only if the provider verifies every address`,
      );
    }
    if (names.length && !byUsername) {
      out.push(
        `${where}.allowedUsers: ${quoteList(names)} ${names.length > 1 ? 'look like usernames' : 'looks like a username'}, which ${names.length > 1 ? 'are' : 'is'} no longer matched (OIDC Core §5.7: preferred_username is neither unique nor stable) — list the user's sub (see /oauth2/userinfo), or add preferred_username to authorization.matchUsersBy`,
      );
    }
    if (rule.allowedEmailDomains.length && !verifiedKnown) {
      out.push(
        `${where}.allowedEmailDomains: now matches only addresses the provider marks verified (email_verified: true); with provider.preset ${preset.name} the provider may not send email_verified, and then nobody matches — check /oauth2/userinfo after a login, gate on groups, or set authorization.allowUnverifiedEmail: true only if the provider verifies every address`,
      );
    }
  }
  return out;
}
