/**
 * Open-redirect-proof return URLs. Accepted: a same-origin path, or an absolute URL on the public
 * origin or an allow-listed host. Rejected: protocol-relative `//evil`, backslash tricks `/\evil`,
 * control characters, userinfo, other schemes. Anything rejected becomes `/`.
 */
const MAX_RETURN_TO = 2048;

export function safeReturnTo(
  rd: string | null | undefined,
  publicUrl: string,
  allowedHosts: string[],
): string {
  const out = checkedReturnTo(rd, publicUrl, allowedHosts);
  // URL parsing percent-encodes (a `"` becomes `%22`), so the result is bounded too: it is stored
  // with every pending login flow, and the flow cap counts flows, not bytes.
  return out.length > MAX_RETURN_TO ? '/' : out;
}

function checkedReturnTo(rd: string | null | undefined, publicUrl: string, allowedHosts: string[]): string {
  if (!rd || rd.length > MAX_RETURN_TO) return '/';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(rd)) return '/';
  const base = new URL(publicUrl);
  if (rd.startsWith('/')) {
    if (rd.startsWith('//')) return '/';
    let u: URL;
    try {
      u = new URL(rd, base);
    } catch {
      return '/';
    }
    if (u.origin !== base.origin) return '/';
    return sameOriginPath(u);
  }
  let u: URL;
  try {
    u = new URL(rd);
  } catch {
    return '/';
  }
  if (u.username || u.password) return '/';
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return '/';
  if (u.origin === base.origin) return sameOriginPath(u);
  const allowed = hostAllowed(u.hostname, allowedHosts);
  // Off-origin targets must be https unless we ourselves run on plain http (local setups).
  if (allowed && (u.protocol === 'https:' || base.protocol === 'http:')) return u.href;
  return '/';
}

/** Whether a host name is one of `allowedHosts` (a leading dot allows every subdomain). */
export function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return allowedHosts.some((h) => {
    const a = h.toLowerCase();
    return a.startsWith('.') ? host.endsWith(a) : host === a;
  });
}

/** Gatehouse's own namespace (login, callback, logout...): never a page to land on after sign-in. */
const OWN_NAMESPACE = /^\/oauth2(?:\/|$)/i;

/**
 * URL parsing normalises dot segments, so `/.//evil.com` comes out as `//evil.com`, which a
 * browser reads as another host: anything that is not a plain single-slash path becomes `/`.
 * A path into /oauth2/ becomes `/` too: returning to /oauth2/start or /oauth2/sign_in starts the
 * next login (oauth2-proxy's nginx example names `/oauth2/sign_in` itself in
 * X-Auth-Request-Redirect when it is opened directly), a loop only the loop guard ends.
 */
function sameOriginPath(u: URL): string {
  const p = u.pathname + u.search + u.hash;
  return p.startsWith('//') || p.startsWith('/\\') || OWN_NAMESPACE.test(u.pathname) ? '/' : p;
}
