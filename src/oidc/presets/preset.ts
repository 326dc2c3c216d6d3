import type { UserMatchField } from '../../authz/policy.js';
import type { ClaimMapping } from '../../identity/identity.js';
import type { IdentitySource } from '../connection.js';
import type { LogoutTargetContext } from '../logoutTarget.js';
import type { OfflineAccessPlan, OfflineAccessRequest } from '../offlineAccess.js';
import type { ProviderSettingsAsWritten } from '../settings.js';

/** The configuration a preset checks. */
export interface PresetConfigView {
  /** The `provider` section as written: claim names the configuration does not set are undefined. */
  provider: ProviderSettingsAsWritten;
  /** `authorization.matchUsersBy` as written (before the preset's default fills it in). */
  matchUsersBy: readonly string[] | undefined;
}

/** What a preset's claim shaping knows besides the claims. */
export interface ClaimShapingContext {
  /** Our client id (Keycloak's client roles are under `resource_access.<clientId>`). */
  clientId: string;
  /** The claim names in force (configured, else the preset's, else the standard ones). */
  mapping: ClaimMapping;
}

/**
 * A provider preset (`provider.preset`): one object per provider kind, in a file of its own
 * (presets/<name>.ts), registered in presets/index.ts. Everything that differs between providers
 * is declared here; nothing outside the presets asks which preset is in use.
 */
export interface ProviderPreset<Name extends string = string> {
  /** The `provider.preset` value that selects it. */
  readonly name: Name;
  /**
   * Whether `provider.preset: auto` picks this preset for that issuer. Presets are asked in the
   * registry's order (presets/index.ts); the first that says yes wins, else generic.
   */
  matchesIssuer(issuer: URL): boolean;
  /** What `matchesIssuer` looks for, for the start-up log ("issuer path /realms/<realm>"). */
  readonly issuerPattern?: string;
  /** Configuration this provider cannot work with: one line per problem, naming the key and the fix. */
  configProblems(c: PresetConfigView): string[];
  /** The scopes and extra authorization parameters that get a refresh token from this provider. */
  offlineAccess(req: OfflineAccessRequest): OfflineAccessPlan;
  /** How the provider is reached and who signed in is read (OpenID Connect, or an OAuth API). */
  readonly identitySource: IdentitySource;
  /**
   * Where logout sends the browser when the provider has no end_session_endpoint and
   * `provider.logoutUrl` is unset; undefined: our own signed-out page.
   */
  logoutTarget(ctx: LogoutTargetContext): string | undefined;
  /** `authorization.matchUsersBy` when unset. */
  readonly matchUsersBy: readonly UserMatchField[];
  /**
   * The claim names this provider uses where the configuration names none (`provider.groupsClaim`
   * …); a name not given here is the standard one (DEFAULT_CLAIM_MAPPING).
   */
  readonly claimDefaults?: Partial<ClaimMapping>;
  /**
   * Reshapes the provider's claims (ID token merged with userinfo) before the identity is read
   * from them, at login and at every refresh (and for bearer JWTs): for providers whose groups
   * live in several claims (Keycloak realm + client roles) or under names only known at run time
   * (Auth0 namespaced claims). Returns a new object; never sees or changes the stored claims.
   */
  shapeClaims?(claims: Readonly<Record<string, unknown>>, ctx: ClaimShapingContext): Record<string, unknown>;
  /**
   * Claims read from the access token when the ID token and userinfo lack them, if it is a JWT
   * the provider signed (its keys, its issuer, `azp` our client when present): Keycloak's role
   * mappers add `realm_access`/`resource_access` to the access token only, by default.
   */
  readonly accessTokenClaims?: readonly string[];
  /**
   * `authorization.allowedEmailDomains` also requires the provider's hosted-domain claim (`hd`,
   * Google Workspace) to be one of those domains: the address alone is not proof of membership.
   */
  readonly checksHostedDomain?: boolean;
  /** The provider always says whether an address is verified (`email_verified`). */
  readonly sendsEmailVerified: boolean;
  /** The dev IdP profile that behaves like this provider (`--profile <name>`); undefined: none needed. */
  readonly devIdpProfile: string | undefined;
  /**
   * The claims whose values, joined by `/`, are the stable subject instead of `sub` (Entra:
   * `tid`, `oid`); undefined: `sub`. See identity.ts `ClaimMapping.subjectClaims`.
   */
  readonly subjectClaims?: readonly string[];
}
