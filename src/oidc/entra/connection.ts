import type { IdentitySource } from '../connection.js';
import { discoverOpenIdProvider, type OpenIdExtensions } from '../openIdConnect.js';
import { ENTRA_DEFAULTS } from '../presets/entraSettings.js';
import { GraphGroups } from './graphGroups.js';
import { graphUrlFor } from './graphUrl.js';
import { tenancyOf } from './tenancy.js';
import { TenantGrants } from './tenantGrants.js';

/**
 * Preset entra's identity source: OpenID Connect (openIdConnect.ts) with Entra's differences —
 * group overage read from Microsoft Graph (graphGroups.ts) and, for a multi-tenant issuer,
 * discovery read at its URL (its issuer is a `{tenantid}` template by design) and the grants
 * checked per tenant against the allow-list (tenantGrants.ts).
 */
export const discoverEntra: IdentitySource = (ctx) => {
  const p = ctx.settings;
  const entra = p.entra ?? ENTRA_DEFAULTS;
  const ext: OpenIdExtensions = {
    groupSource: new GraphGroups({
      graphUrl: graphUrlFor(p.issuer, entra.graphUrl),
      groupNames: entra.groupNames,
      groupsClaim: p.groupsClaim,
      timeoutMs: p.timeoutSeconds * 1000,
      run: ctx.run,
      logger: ctx.logger,
      fetch: ctx.fetch,
    }),
  };
  const tenancy = tenancyOf(p.issuer);
  if (tenancy.kind === 'multi') {
    // The config check refuses to start without it; kept here so no code path admits any tenant.
    const tenants = entra.tenants;
    if (!tenants?.length) {
      return Promise.reject(new Error('provider.entra.tenants is required with a multi-tenant issuer'));
    }
    ext.discovery = {
      url: tenancy.discoveryUrl,
      acceptIssuer: (issuer) =>
        issuer === tenancy.template
          ? undefined
          : `its issuer ${issuer} is not the multi-tenant template ${tenancy.template}`,
    };
    ext.grants = (conf, algorithm) =>
      new TenantGrants(conf, {
        template: tenancy.template,
        tenants,
        clientId: p.clientId,
        clientSecret: p.clientSecret,
        algorithm,
        clockToleranceSeconds: p.clockToleranceSeconds,
        timeoutSeconds: p.timeoutSeconds,
        fetch: ctx.fetch,
      });
  }
  return discoverOpenIdProvider(ctx, ext);
};
