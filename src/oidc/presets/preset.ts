import type { UserMatchField } from '../../authz/policy.js';
import type { IdentitySource } from '../connection.js';
import type { LogoutTargetContext } from '../logoutTarget.js';
import type { OfflineAccessPlan, OfflineAccessRequest } from '../offlineAccess.js';
import type { ConfiguredProviderSettings } from '../settings.js';

/** The configuration a preset checks. */
export interface PresetConfigView {
  provider: ConfiguredProviderSettings;
  /** `authorization.matchUsersBy` as written (before the preset's default fills it in). */
  matchUsersBy: readonly string[] | undefined;
}

/**
 * A provider preset (`provider.preset`): one object per provider kind, in a file of its own
 * (presets/<name>.ts), registered in presets/index.ts. Everything that differs between providers
 * is declared here; nothing outside the presets asks which preset is in use.
 */
export interface ProviderPreset<Name extends string = string> {
  /** The `provider.preset` value that selects it. */
  readonly name: Name;
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
  /** The provider always says whether an address is verified (`email_verified`). */
  readonly sendsEmailVerified: boolean;
  /** The dev IdP profile that behaves like this provider (`--profile <name>`); undefined: none needed. */
  readonly devIdpProfile: string | undefined;
  /** Whether an issuer is this provider's (for `provider.preset: auto`). */
  matchesIssuer?(issuer: URL): boolean;
  /**
   * The claims whose values, joined by `/`, are the stable subject instead of `sub` (Entra:
   * `tid`, `oid`); undefined: `sub`. See identity.ts `ClaimMapping.subjectClaims`.
   */
  readonly subjectClaims?: readonly string[];
}
