/**
 * Entra ID issuers: `https://<login host>/<tenant>/v2.0`. A tenant id (GUID) or the tenant's
 * domain is one directory; `common` (work, school and personal accounts) and `organizations`
 * (any work or school account) are multi-tenant: their discovery names the issuer *template*
 * `https://<login host>/{tenantid}/v2.0`, and each ID token's `iss` carries the user's own tenant
 * (`tid`). Gatehouse admits a multi-tenant issuer only with a tenant allow-list.
 */

export const TENANT_PLACEHOLDER = '{tenantid}';

/** The tenant path segments whose discovery is the multi-tenant template. */
const MULTI_TENANT_SEGMENTS: ReadonlySet<string> = new Set(['common', 'organizations']);

export type Tenancy =
  | { kind: 'single' }
  | {
      kind: 'multi';
      /** `common` or `organizations`, as written in the issuer. */
      segment: string;
      /** The issuer template discovery must name: the issuer with `{tenantid}` for the segment. */
      template: string;
      /** The discovery document's URL (not resolved from the issuer: its issuer differs by design). */
      discoveryUrl: string;
    };

/** The tenant path segment of an Entra-shaped issuer (`/<tenant>/v2.0`, `/<tenant>/`), lower-cased. */
function tenantSegment(issuer: URL): { segment: string; index: number } | undefined {
  const parts = issuer.pathname.split('/');
  // ['', '<tenant>', 'v2.0'] or ['', '<tenant>', ''] or ['', '<tenant>']
  const last = parts.at(-1) === '' ? parts.length - 2 : parts.length - 1;
  const index = parts[last]?.toLowerCase() === 'v2.0' ? last - 1 : last;
  const segment = parts[index];
  return index >= 1 && segment ? { segment: segment.toLowerCase(), index } : undefined;
}

/** Whether the issuer is multi-tenant, and if so the template its discovery must name. */
export function tenancyOf(issuer: string): Tenancy {
  const url = new URL(issuer);
  const t = tenantSegment(url);
  if (!t || !MULTI_TENANT_SEGMENTS.has(t.segment)) return { kind: 'single' };
  const parts = url.pathname.split('/');
  parts[t.index] = TENANT_PLACEHOLDER;
  const templateUrl = new URL(url.href);
  templateUrl.pathname = parts.join('/');
  // As Entra writes it: no trailing slash, the placeholder unencoded.
  const template = templateUrl.href
    .replace(encodeURIComponent(TENANT_PLACEHOLDER), TENANT_PLACEHOLDER)
    .replace(/\/$/, '');
  const discoveryUrl = new URL(
    `${url.pathname.replace(/\/$/, '')}/.well-known/openid-configuration`,
    url.origin,
  ).href;
  return { kind: 'multi', segment: t.segment, template, discoveryUrl };
}

/** The tenant id in a single-tenant issuer, when it is a GUID (a domain name cannot be compared with `tid`). */
export function issuerTenantId(issuer: string): string | undefined {
  const t = tenantSegment(new URL(issuer));
  return t && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(t.segment)
    ? t.segment
    : undefined;
}

/** The issuer of a tenant's tokens under a multi-tenant template. */
export function tenantIssuer(template: string, tid: string): string {
  return template.replace(TENANT_PLACEHOLDER, tid);
}
