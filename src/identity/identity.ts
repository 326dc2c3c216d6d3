import { readClaim } from './claimPath.js';
import { toValueList } from './groupValues.js';

/** Who the user is, as forwarded upstream and used for authorization. Computed at login/refresh. */
export interface Identity {
  /**
   * The stable subject: the provider's `sub`, or — with a `subjectClaims` mapping (Entra:
   * `<tid>/<oid>`) — those claims joined by `/`. What allowedUsers `sub` entries match.
   */
  sub: string;
  /**
   * The provider's own `sub`, when `sub` above is built from other claims. Back-channel logout,
   * the userinfo `sub` check and the refresh subject check compare the provider's value.
   */
  providerSub?: string;
  /** preferred username, else email, else sub */
  user: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  preferredUsername?: string;
  /** The organisation domain the provider vouches for (Google Workspace's `hd` claim). */
  hostedDomain?: string;
  groups: string[];
  roles: string[];
}

export interface ClaimMapping {
  groupsClaim: string;
  rolesClaim: string;
  usernameClaim: string;
  emailClaim: string;
  /**
   * The claims whose values, joined by `/`, are the stable subject instead of `sub` (the preset's:
   * Entra `['tid', 'oid']`, since its `sub` is pairwise per application). All must be present.
   */
  subjectClaims?: readonly string[] | undefined;
}

/** The standard claim names; the config defaults (provider.*Claim) are these. */
export const DEFAULT_CLAIM_MAPPING: Readonly<ClaimMapping> = {
  groupsClaim: 'groups',
  rolesClaim: 'roles',
  usernameClaim: 'preferred_username',
  emailClaim: 'email',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** `sub`, or the `subjectClaims` joined by `/`; throws naming a missing one (never falls back to `sub`). */
function stableSubject(
  claims: Record<string, unknown>,
  providerSub: string,
  subjectClaims: readonly string[] | undefined,
): string {
  if (!subjectClaims?.length) return providerSub;
  return subjectClaims
    .map((name) => {
      const v = str(claims[name]);
      if (v === undefined) {
        throw new Error(`claims have no ${name} (the stable subject is ${subjectClaims.join('/')})`);
      }
      return v.toLowerCase();
    })
    .join('/');
}

/**
 * Builds the identity from ID token claims merged with userinfo (userinfo wins for claims it has,
 * which is how providers that only put groups in userinfo are supported).
 */
export function extractIdentity(claims: Record<string, unknown>, map: ClaimMapping): Identity {
  const providerSub = str(claims.sub);
  if (!providerSub) throw new Error('claims have no sub');
  const sub = stableSubject(claims, providerSub, map.subjectClaims);
  const email = str(readClaim(claims, map.emailClaim));
  const preferredUsername = str(readClaim(claims, map.usernameClaim));
  const ev = claims.email_verified;
  const emailVerified = ev === undefined ? undefined : ev === true || ev === 'true';
  const identity: Identity = {
    sub,
    user: preferredUsername ?? email ?? sub,
    groups: toValueList(readClaim(claims, map.groupsClaim)),
    roles: toValueList(readClaim(claims, map.rolesClaim)),
  };
  if (sub !== providerSub) identity.providerSub = providerSub;
  if (email !== undefined) identity.email = email;
  if (emailVerified !== undefined) identity.emailVerified = emailVerified;
  const name = str(claims.name);
  if (name !== undefined) identity.name = name;
  if (preferredUsername !== undefined) identity.preferredUsername = preferredUsername;
  const hd = str(claims.hd);
  if (hd !== undefined) identity.hostedDomain = hd;
  return identity;
}

/**
 * Header values: control characters (CR/LF injection) are dropped, and non-ASCII text is sent as
 * its UTF-8 bytes (what Go, nginx and most upstreams read back as UTF-8), because Node refuses
 * header strings with characters above U+00FF — "李雷" must not turn every request into a 502.
 */
export function headerSafe(v: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const clean = v.replace(/[\u0000-\u001f\u007f]/g, '');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII fast path
  return /^[\u0000-\u007f]*$/.test(clean) ? clean : Buffer.from(clean, 'utf8').toString('latin1');
}

/**
 * The identity headers sent upstream (and answered by forward-auth). Groups are comma-joined; a
 * list longer than `maxGroupsBytes` is cut at a group boundary and flagged with
 * `X-Forwarded-Groups-Truncated: true`, so a user in 500 groups can never push the upstream into
 * a 431 (the full list is always available from /oauth2/userinfo).
 */
export function identityHeaders(id: Identity, maxGroupsBytes = 8192): Record<string, string> {
  const h: Record<string, string> = { 'x-forwarded-user': headerSafe(id.user) };
  if (id.email) h['x-forwarded-email'] = headerSafe(id.email);
  if (id.preferredUsername) h['x-forwarded-preferred-username'] = headerSafe(id.preferredUsername);
  if (id.groups.length) {
    let joined = '';
    let truncated = false;
    for (const g of id.groups) {
      const next = joined ? `${joined},${headerSafe(g)}` : headerSafe(g);
      if (Buffer.byteLength(next, 'latin1') > maxGroupsBytes) {
        truncated = true;
        break;
      }
      joined = next;
    }
    h['x-forwarded-groups'] = joined;
    if (truncated) h['x-forwarded-groups-truncated'] = 'true';
  }
  return h;
}

/** Headers a client might send to impersonate someone; always removed before proxying. */
export const IDENTITY_HEADER_NAMES = [
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-forwarded-groups',
  'x-forwarded-groups-truncated',
  'x-forwarded-access-token',
  // The OAuth client a bearer token was issued to (engine/credentials/bearerToken.ts).
  'x-forwarded-client-id',
] as const;
