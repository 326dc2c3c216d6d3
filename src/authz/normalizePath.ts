/**
 * One canonical form of a request path, used both to decide (skipAuth, authorization rules) and
 * to forward: if the gateway and the upstream read a path differently, `/public/../admin` or
 * `//admin` or `/%61dmin` could be authorized as one path and served as another.
 * - percent-encoded unreserved characters are decoded (`%61` → `a`, `%2e` → `.`); other escapes
 *   (notably `%2F`) stay encoded, upper-cased;
 * - runs of slashes collapse to one;
 * - dot segments are resolved (RFC 3986 §5.2.4) and can never climb above the root.
 * A backslash is not a separator here: paths containing one (or `%5C`, `#`, `%25`) are refused
 * before they get this far (see refuseTarget in requestTarget.ts).
 * The fast path returns already-canonical paths untouched (no allocation on the hot path).
 */
const NEEDS_WORK = /%|\/\/|\/\.\.?(\/|$)/;

export function normalizePath(path: string): string {
  if (!path.startsWith('/')) path = `/${path}`;
  if (!NEEDS_WORK.test(path)) return path;
  const decoded = path.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const ch = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(ch) ? ch : m.toUpperCase();
  });
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '.' || (seg === '' && i < segments.length - 1)) continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  const last = segments[segments.length - 1];
  if ((last === '.' || last === '..') && out[out.length - 1] !== '') out.push('');
  return `/${out.join('/')}`;
}

/** Splits `path?query`, normalising the path part only. */
export function normalizeUrl(url: string): { path: string; url: string } {
  const q = url.indexOf('?');
  const raw = q === -1 ? url : url.slice(0, q);
  const path = normalizePath(raw);
  return { path, url: q === -1 ? path : path + url.slice(q) };
}
