// Public entry of the dev IdP: `import { startDevIdp } from 'gatehouse/devidp'`.
export { ENTRA_HOME_TENANT, entraGroupId, entraObjectId } from './entra.js';
export { PROFILE_NAMES } from './profiles.js';
export { startDevIdp } from './server.js';
export type {
  BackchannelLogoutResult,
  DevClaimRule,
  DevIdp,
  DevIdpClock,
  DevIdpIssuer,
  DevIdpOptions,
  DevIdpStats,
  DevUser,
  IssuedTokens,
} from './types.js';
export { DEFAULT_USERS } from './users.js';
