// Logging in through a gateway that registered itself at the dev IdP (Dynamic Client
// Registration), and reading which client it used: shared by the single-gateway and the
// Redis-replica registration suites.
import type { DevIdp } from '../../src/devidp/index.js';
import type { Reply, TestBrowser } from './browser.js';

/**
 * Logs `browser` in through `gwUrl` (the dev IdP auto-logs alice in); returns the hops. With
 * replicas behind one `publicUrl` (a load balancer), every hop back to it goes to `gwUrl`.
 */
export function loginThrough(browser: TestBrowser, gwUrl: string, publicUrl = gwUrl): Promise<Reply[]> {
  return browser.follow(`${gwUrl}/app`, {
    rewrite: (u) => (u.startsWith(publicUrl) ? gwUrl + u.slice(publicUrl.length) : u),
  });
}

/** The client_id the gateway sent the browser to the dev IdP with. */
export function authorizeClientId(idp: DevIdp, hops: Reply[]): string | undefined {
  const to = hops.map((h) => h.location).find((l) => l?.startsWith(`${idp.issuer}/authorize`));
  return to === undefined ? undefined : (new URL(to).searchParams.get('client_id') ?? undefined);
}

export function describeHops(hops: Reply[]): string {
  return hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → ');
}
