// Profiles switch the dev IdP into the behaviour of a real provider or a failure mode.
// They are plain names so they can come from a CLI flag, the admin API or a test.

export type ProfileKind = 'claims' | 'refresh' | 'failure' | 'provider';

interface ProfileInfo {
  readonly name: string;
  readonly kind: ProfileKind;
  readonly summary: string;
}

const PROFILES = [
  { name: 'huge-groups', kind: 'claims', summary: '600 extra long group names; ID token > 20 KB' },
  { name: 'groups-string', kind: 'claims', summary: 'groups as one CSV string with a quoted "Ops, EMEA"' },
  { name: 'single-group-string', kind: 'claims', summary: 'groups as a single string (first group)' },
  { name: 'member-of-groups', kind: 'claims', summary: 'groups under memberOf' },
  { name: 'no-groups-claim', kind: 'claims', summary: 'no groups claim anywhere' },
  { name: 'keycloak-roles', kind: 'claims', summary: 'roles in realm_access / resource_access.<client>' },
  { name: 'namespaced-claims', kind: 'claims', summary: 'https://example.com/groups and /roles' },
  { name: 'azure-group-overage', kind: 'claims', summary: '_claim_names/_claim_sources instead of groups' },
  { name: 'userinfo-groups', kind: 'claims', summary: 'groups only in userinfo, not in the ID token' },
  { name: 'userinfo-sub-mismatch', kind: 'claims', summary: 'userinfo answers another sub' },
  {
    name: 'no-email-verified',
    kind: 'claims',
    summary: 'email without email_verified (Entra ID: an address nobody verified)',
  },
  {
    name: 'short-expiry',
    kind: 'refresh',
    summary: 'access and ID tokens live 10 s unless TTL flags say otherwise',
  },
  {
    name: 'refresh-reuses-token',
    kind: 'refresh',
    summary: 'no rotation: the same refresh token comes back',
  },
  { name: 'refresh-no-token-in-response', kind: 'refresh', summary: 'refresh response omits refresh_token' },
  { name: 'refresh-loses-group', kind: 'refresh', summary: 'refreshed tokens and userinfo drop admins' },
  { name: 'refresh-no-id-token', kind: 'refresh', summary: 'refresh response omits id_token' },
  { name: 'no-refresh-token', kind: 'refresh', summary: 'never issues refresh tokens' },
  { name: 'refresh-invalid-grant', kind: 'refresh', summary: 'every refresh fails with invalid_grant' },
  { name: 'missing-id-token', kind: 'failure', summary: 'code grant returns no id_token' },
  { name: 'expired-id-token', kind: 'failure', summary: 'code grant ID token expired 10 minutes ago' },
  { name: 'bad-signature', kind: 'failure', summary: 'code grant ID token signed by a key not in the JWKS' },
  { name: 'wrong-audience', kind: 'failure', summary: 'code grant ID token for another client' },
  { name: 'wrong-issuer', kind: 'failure', summary: 'code grant ID token from another issuer' },
  { name: 'nonce-mismatch', kind: 'failure', summary: 'code grant ID token carries another nonce' },
  {
    name: 'token-endpoint-5xx',
    kind: 'failure',
    summary: 'token endpoint answers 503 temporarily_unavailable',
  },
  { name: 'token-endpoint-slow', kind: 'failure', summary: 'each token response delayed (token-delay-ms)' },
  { name: 'authorize-error', kind: 'failure', summary: 'authorize redirects back with error=access_denied' },
  { name: 'discovery-down', kind: 'failure', summary: 'discovery answers 503' },
  {
    name: 'userinfo-5xx',
    kind: 'failure',
    summary: 'userinfo and the GitHub /user endpoints answer 503',
  },
  { name: 'introspection-5xx', kind: 'failure', summary: 'introspection answers 503' },
  { name: 'graph-5xx', kind: 'failure', summary: 'the Microsoft Graph emulation (/graph) answers 503' },
  {
    name: 'introspection-slow',
    kind: 'failure',
    summary: 'each introspection answer delayed (token-delay-ms)',
  },
  {
    name: 'clock-skew',
    kind: 'failure',
    summary: "the IdP's clock runs 5 minutes ahead: iat/exp/auth_time and Date +300 s",
  },
  {
    name: 'token-type-lowercase',
    kind: 'provider',
    summary: 'token responses say token_type "bearer" (lower case, as GitHub and others do)',
  },
  {
    name: 'scope-omitted',
    kind: 'provider',
    summary: 'token responses carry no scope (RFC 6749: optional when it is the requested one)',
  },
  {
    name: 'expires-in-string',
    kind: 'provider',
    summary: 'token responses send expires_in as a string ("300"), not a number',
  },
  {
    name: 'opaque-access-tokens',
    kind: 'provider',
    summary: 'access tokens are opaque random strings (introspect them)',
  },
  {
    name: 'google',
    kind: 'provider',
    summary: 'rejects offline_access; refresh token via access_type=offline',
  },
  { name: 'github', kind: 'provider', summary: 'OAuth 2.0 only: no ID token, identity from /user' },
  {
    name: 'github-app',
    kind: 'provider',
    summary: 'as github, with expiring user tokens and a rotating refresh token (GitHub Apps)',
  },
  { name: 'cognito', kind: 'provider', summary: 'logout at /logout?client_id=&logout_uri=' },
  {
    name: 'keycloak',
    kind: 'provider',
    summary:
      'groups as full paths (/admins), realm_access and resource_access.<client> roles; refresh_expires_in',
  },
  {
    name: 'okta',
    kind: 'provider',
    summary: 'groups claim only when the groups scope is requested (listed in discovery)',
  },
  {
    name: 'auth0',
    kind: 'provider',
    summary: 'namespaced https://example.com/groups and /roles; no end_session_endpoint, /v2/logout',
  },
  {
    name: 'gitlab',
    kind: 'provider',
    summary: 'groups_direct in the ID token, groups at userinfo; no offline_access, refresh always',
  },
  {
    name: 'entra',
    kind: 'provider',
    summary: 'Entra ID claims: oid, tid, UPN, email without email_verified, group ids; Graph at /graph',
  },
  {
    name: 'entra-multi-tenant',
    kind: 'provider',
    summary: "with entra: /organizations/v2.0 discovery names {tenantid}; iss is the user's tenant",
  },
] as const satisfies readonly ProfileInfo[];

export type ProfileName = (typeof PROFILES)[number]['name'];

export const PROFILE_INFO: readonly ProfileInfo[] = PROFILES;
export const PROFILE_NAMES: readonly string[] = Object.freeze(PROFILES.map((p) => p.name));

function isProfileName(name: string): name is ProfileName {
  return PROFILE_NAMES.includes(name);
}

/** Validates and de-duplicates; throws naming the bad profile so a typo never goes unnoticed. */
export function parseProfiles(names: readonly string[]): ProfileName[] {
  const out: ProfileName[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (!isProfileName(name)) {
      throw new Error(`unknown dev-idp profile "${raw}" (valid profiles: ${PROFILE_NAMES.join(', ')})`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** The active profiles; replaced as a whole so a reader never sees a half-applied switch. */
export class ProfileSet {
  #active: ReadonlySet<ProfileName>;
  #order: readonly ProfileName[];

  constructor(names: readonly string[] = []) {
    this.#order = parseProfiles(names);
    this.#active = new Set(this.#order);
  }

  has(name: ProfileName): boolean {
    return this.#active.has(name);
  }

  list(): string[] {
    return [...this.#order];
  }

  replace(names: readonly string[]): void {
    const parsed = parseProfiles(names);
    this.#order = parsed;
    this.#active = new Set(parsed);
  }
}
