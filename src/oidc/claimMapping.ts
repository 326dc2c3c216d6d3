import type { ClaimMapping } from '../identity/identity.js';
import { presetNamed } from './presets/index.js';
import type { ConfiguredProviderSettings } from './settings.js';

/**
 * How claims become an identity for this provider: the configured claim names, plus what only the
 * preset knows (the claims of a stable subject: Entra's `tid`/`oid`). Sessions and bearer tokens
 * use the same mapping, so one user is one subject whichever way they come in.
 */
export function claimMappingOf(
  p: Pick<
    ConfiguredProviderSettings,
    'preset' | 'groupsClaim' | 'rolesClaim' | 'usernameClaim' | 'emailClaim'
  >,
): ClaimMapping {
  return {
    groupsClaim: p.groupsClaim,
    rolesClaim: p.rolesClaim,
    usernameClaim: p.usernameClaim,
    emailClaim: p.emailClaim,
    subjectClaims: presetNamed(p.preset).subjectClaims,
  };
}
