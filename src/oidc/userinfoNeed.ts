import { readClaim } from '../identity/claimPath.js';
import type { ProviderSettings } from './settings.js';

/**
 * Whether to read userinfo for these ID token claims (OIDC Core §5.4: with the code flow a
 * provider may release email/profile claims only at userinfo; panva oidc-provider does by
 * default). `auto` asks only when the provider has a userinfo endpoint and a claim Gatehouse uses
 * is absent. "Uses" is every claim the identity is built from — emailClaim, usernameClaim and
 * groupsClaim — not only those a rule names: the identity headers forward all three upstream by
 * default, and a missing one silently changes what the upstream sees. A provider that simply
 * has no groups for a user costs one userinfo call per login/refresh, never a wrong identity.
 */
export function needsUserinfo(
  settings: Pick<ProviderSettings, 'useUserinfo' | 'emailClaim' | 'usernameClaim' | 'groupsClaim'>,
  idClaims: Record<string, unknown>,
  hasUserinfoEndpoint: boolean,
): boolean {
  if (settings.useUserinfo === true) return true;
  if (settings.useUserinfo === false || !hasUserinfoEndpoint) return false;
  // Entra group overage names the groups claim in _claim_names: distributed claims resolve it.
  const distributed = (idClaims._claim_names ?? {}) as Record<string, unknown>;
  return [settings.emailClaim, settings.usernameClaim, settings.groupsClaim].some(
    (name) => readClaim(idClaims, name) === undefined && !Object.hasOwn(distributed, name),
  );
}
