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
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter(
      (p) => p && !names.includes(p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim()),
    );
  return kept.length ? kept.join('; ') : undefined;
}

export interface CookieNaming {
  secure: boolean;
  /** Base name from config; `__Host-` is prefixed on https. */
  base: string;
}

export interface CookieJar {
  session: string;
  login: string;
  secure: boolean;
}

export function cookieNames(n: CookieNaming): CookieJar {
  const prefix = n.secure ? '__Host-' : '';
  return { session: `${prefix}${n.base}`, login: `${prefix}${n.base}_login`, secure: n.secure };
}

export function serializeCookie(jar: CookieJar, name: string, value: string, maxAgeSec?: number): string {
  let c = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  if (jar.secure) c += '; Secure';
  if (maxAgeSec !== undefined) c += `; Max-Age=${Math.max(0, Math.floor(maxAgeSec))}`;
  return c;
}

export function clearCookie(jar: CookieJar, name: string): string {
  return serializeCookie(jar, name, '', 0);
}
