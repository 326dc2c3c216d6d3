/** Cookie parsing and serialisation, framework-free. */

/** Parses only the cookies we care about; ignores malformed pairs instead of failing. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq !== -1 && eq < end && header.slice(from, eq).trim() === name) {
      let v = header.slice(eq + 1, end).trim();
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    from = end + 1;
  }
  return undefined;
}

/** Removes our cookies from a Cookie header before it goes upstream; undefined when nothing is left. */
export function stripCookies(header: string | undefined, names: string[]): string | undefined {
  if (!header) return undefined;
  // Every proxied request of a signed-in browser comes here: a header that is only our session
  // cookie, or holds none of ours, is answered without splitting it.
  const only = soleCookieName(header);
  if (only !== undefined) return names.includes(only) ? undefined : header;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter(
      (p) => p && !names.includes(p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim()),
    );
  return kept.length ? kept.join('; ') : undefined;
}

/**
 * The name of the one cookie a header holds (`name=value`, nothing else: no `;`, no spaces to
 * trim); undefined for any other header, which takes the general path.
 */
function soleCookieName(header: string): string | undefined {
  if (header.includes(';')) return undefined;
  const eq = header.indexOf('=');
  const name = eq === -1 ? header : header.slice(0, eq);
  return name.length > 0 && name.trim() === name ? name : undefined;
}

export interface CookieNaming {
  secure: boolean;
  /** Base name from config; `__Host-` is prefixed on https (`__Secure-` with a `domain`). */
  base: string;
  /** `session.cookieDomain` (`.example.com`): session and login cookies are sent to every host under it. */
  domain?: string | undefined;
}

export interface CookieJar {
  session: string;
  login: string;
  /** The host-only cookie that binds a cross-host sign-in hand-off to this browser (engine/handoff.ts). */
  bind: string;
  secure: boolean;
  /** Set: the session and login cookies carry `Domain=` (and the `__Secure-` prefix, since `__Host-` forbids it). */
  domain?: string | undefined;
}

export function cookieNames(n: CookieNaming): CookieJar {
  const hostOnly = n.secure ? '__Host-' : '';
  const prefix = n.secure ? (n.domain ? '__Secure-' : '__Host-') : '';
  const jar: CookieJar = {
    session: `${prefix}${n.base}`,
    login: `${prefix}${n.base}_login`,
    bind: `${hostOnly}${n.base}_bind`,
    secure: n.secure,
  };
  if (n.domain) jar.domain = n.domain;
  return jar;
}

/**
 * `hostOnly`: no `Domain` even when the jar has one — the bind cookie, and a session cookie set by
 * a hand-off on a host outside `session.cookieDomain`.
 */
export function serializeCookie(
  jar: CookieJar,
  name: string,
  value: string,
  maxAgeSec?: number,
  hostOnly = false,
): string {
  let c = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  if (jar.domain && !hostOnly && name !== jar.bind) c += `; Domain=${jar.domain}`;
  if (jar.secure) c += '; Secure';
  if (maxAgeSec !== undefined) c += `; Max-Age=${Math.max(0, Math.floor(maxAgeSec))}`;
  return c;
}

export function clearCookie(jar: CookieJar, name: string, hostOnly = false): string {
  return serializeCookie(jar, name, '', 0, hostOnly);
}
