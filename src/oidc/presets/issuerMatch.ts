/**
 * Host tests for `matchesIssuer` (preset.ts). Hosts compare lower-case and whole-label: a
 * suffix matches at a dot, so `evil-okta.com` is not `okta.com`'s and `okta.com.evil.example`
 * is no Okta host either.
 */
export function hostIs(issuer: URL, ...hosts: string[]): boolean {
  const host = issuer.hostname.toLowerCase();
  return hosts.includes(host);
}

/** `issuer`'s host is a subdomain of one of `domains` (`x.okta.com` for `okta.com`). */
export function hostUnder(issuer: URL, ...domains: string[]): boolean {
  const host = issuer.hostname.toLowerCase();
  return domains.some((d) => host.endsWith(`.${d}`));
}
