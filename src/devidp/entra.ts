// Entra ID's claim shapes (profile `entra`): users are an object id (`oid`) in a directory
// (`tid`), both GUIDs; groups are object ids too; `email` is an unverified attribute. The
// Microsoft Graph `/me/transitiveMemberOf` emulation that group overage sends a relying party to
// lives in graph.ts.
import { createHash } from 'node:crypto';
import type { DevUser } from './types.js';

/** The directory every dev user is in unless their record names another (`tid`). */
export const ENTRA_HOME_TENANT = '7b4e8d2a-3c1f-4a6e-9d0b-5e2f1a8c6b3d';

/** A stable GUID-shaped id derived from a name, so tests can compute what the dev IdP sends. */
function guidOf(kind: string, name: string): string {
  const h = createHash('sha256').update(`${kind}:${name}`).digest('hex');
  // Version-4 and RFC 4122 variant nibbles, so the value looks like any Entra object id.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The object id (`oid`) of a dev user. */
export function entraObjectId(sub: string): string {
  return guidOf('user', sub);
}

/** The object id of a dev group, as Entra puts it in `groups` and Graph answers it as `id`. */
export function entraGroupId(name: string): string {
  return guidOf('group', name);
}

export function entraTenantOf(user: DevUser): string {
  return user.tid ?? ENTRA_HOME_TENANT;
}

/** The claims Entra adds to (or shapes in) a v2.0 ID token; groups are ids. */
export function entraIdentityClaims(user: DevUser): Record<string, unknown> {
  return { oid: entraObjectId(user.sub), tid: entraTenantOf(user), ver: '2.0' };
}
