/**
 * Plain http to the provider carries the client secret, codes, tokens and the signing keys in
 * clear. It is accepted only where no network is crossed — a loopback issuer (127.0.0.0/8, ::1,
 * localhost), as in development and in tests — or where the operator says so explicitly with
 * `provider.allowInsecureIssuer: true` (logged as a warning at start).
 */

/** 127.0.0.0/8, ::1 (also IPv4-mapped 127.x) and localhost, as a WHATWG URL `hostname` spells them. */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  // `localhost` only: `*.localhost` is resolved through DNS by Node (and the search domain), so
  // it may well be another machine.
  if (h === 'localhost') return true;
  if (h === '[::1]') return true;
  // The URL parser normalises IPv4 (127.1, 0x7f.1 → 127.0.0.1) and IPv4-mapped IPv6 ([::ffff:7f00:1]).
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h);
}

/** The configuration problem line for an http issuer off loopback, or undefined when it is fine. */
export function insecureIssuerProblem(issuer: string, allowInsecureIssuer: boolean): string | undefined {
  const url = new URL(issuer);
  if (url.protocol !== 'http:' || allowInsecureIssuer || isLoopbackHostname(url.hostname)) return undefined;
  return (
    `provider.issuer: ${url.origin} is plain http on a non-loopback host, so the client secret, ` +
    'tokens and signing keys would cross the network in clear — use the https issuer URL, or set ' +
    'provider.allowInsecureIssuer: true if this network is trusted (plain http is accepted without it ' +
    'only on 127.0.0.0/8, ::1 and localhost)'
  );
}

/** True when an http issuer is in use only because allowInsecureIssuer says so (warn at start). */
export function usesInsecureIssuer(issuer: string, allowInsecureIssuer: boolean): boolean {
  const url = new URL(issuer);
  return allowInsecureIssuer && url.protocol === 'http:' && !isLoopbackHostname(url.hostname);
}

/** Discovery metadata members that name a URL Gatehouse or the browser talks to. */
function endpointEntries(metadata: Record<string, unknown>): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(metadata)) {
    if (k.endsWith('_endpoint') || k === 'jwks_uri' || k === 'check_session_iframe') out.push([k, v]);
  }
  const aliases = metadata.mtls_endpoint_aliases;
  if (aliases && typeof aliases === 'object') {
    for (const [k, v] of Object.entries(aliases)) out.push([`mtls_endpoint_aliases.${k}`, v]);
  }
  return out;
}

/**
 * Discovered endpoints may not be weaker than the issuer: with an https issuer every endpoint
 * must be https (a discovery document naming an http `jwks_uri` or `token_endpoint` is a
 * downgrade, and jose would fetch the keys over it); with a loopback http issuer, endpoints are
 * https or loopback http. `allowInsecureIssuer` lifts the second rule only, never the first.
 * Returns one line per offending member (empty: fine).
 */
export function endpointDowngrades(
  issuer: string,
  metadata: Record<string, unknown>,
  allowInsecureIssuer: boolean,
): string[] {
  const httpsIssuer = new URL(issuer).protocol === 'https:';
  const problems: string[] = [];
  for (const [key, value] of endpointEntries(metadata)) {
    if (typeof value !== 'string') continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      problems.push(`${key} is not an absolute URL`);
      continue;
    }
    if (url.protocol === 'https:') continue;
    if (
      url.protocol === 'http:' &&
      !httpsIssuer &&
      (allowInsecureIssuer || isLoopbackHostname(url.hostname))
    ) {
      continue;
    }
    problems.push(
      httpsIssuer
        ? `${key} ${url.origin} is not https although the issuer is`
        : `${key} ${url.origin} is plain http off loopback (set provider.allowInsecureIssuer: true only on a trusted network)`,
    );
  }
  return problems;
}
