import { z } from 'zod';
import { httpUrl } from '../../util/httpUrl.js';

/** A directory (tenant) id as Entra writes it in `tid`: a GUID, compared lower-cased. */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `provider.entra`: the settings only the `entra` preset reads (presets/entra.ts). All optional: a
 * single-tenant issuer (`https://login.microsoftonline.com/<tenant id>/v2.0`) needs none of them.
 */
export const entraSettingsSchema = z
  .object({
    /**
     * The tenants (directory ids, GUIDs) whose users may sign in when the issuer is multi-tenant
     * (`.../common/v2.0` or `.../organizations/v2.0`): required there, since Entra would otherwise
     * let a user of *any* Microsoft tenant in. With a single-tenant issuer it must name that tenant.
     */
    tenants: z
      .array(z.string().regex(TENANT_ID, 'must be a tenant id (a GUID, as in the tid claim)'))
      .min(1)
      .transform((ts) => [...new Set(ts.map((t) => t.toLowerCase()))])
      .optional(),
    /**
     * Microsoft Graph, for group overage (more groups than fit in the ID token): the groups are read
     * from `{graphUrl}/v1.0/me/transitiveMemberOf` with the user's access token. Another cloud's
     * Graph, or a test double. Default: the Graph of the issuer's cloud (entra/graphUrl.ts).
     */
    graphUrl: httpUrl.optional(),
    /**
     * What a group read from Graph becomes: its object `id` (a GUID, what the ID token's `groups`
     * claim carries, so rules work the same with and without overage) or its `displayName`
     * (readable, but not unique and renamable by any group owner: do not authorize on it).
     */
    groupNames: z.enum(['id', 'displayName']).default('id'),
  })
  .strict();

export type EntraSettings = z.infer<typeof entraSettingsSchema>;

/** The defaults, for a preset `entra` configured without a `provider.entra` section. */
export const ENTRA_DEFAULTS: EntraSettings = entraSettingsSchema.parse({});
