/**
 * Host patterns of routes (`grafana.example.com`, `*.example.com`, with or without a port) and
 * how a request's `Host` is matched against them.
 */

/** A request's `Host` split into a lower-cased name and its port ('' without one). */
export function splitHost(host: string): { name: string; port: string } {
  const h = host.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    const port = end !== -1 && h[end + 1] === ':' ? h.slice(end + 2) : '';
    return { name: end === -1 ? h : h.slice(0, end + 1), port };
  }
  const colon = h.lastIndexOf(':');
  return colon === -1 ? { name: h, port: '' } : { name: h.slice(0, colon), port: h.slice(colon + 1) };
}

/** A route's host pattern, split once. */
export interface HostPattern {
  /** Exact name, or the suffix (`.example.com`) of a wildcard. */
  name: string;
  wildcard: boolean;
  /** '' matches any port. */
  port: string;
}

export function hostPattern(host: string): HostPattern {
  const { name, port } = splitHost(host);
  return name.startsWith('*.')
    ? { name: name.slice(1), wildcard: true, port }
    : { name, wildcard: false, port };
}

export function hostMatches(p: HostPattern | undefined, name: string, port: string): boolean {
  if (!p) return true;
  if (p.port !== '' && p.port !== port) return false;
  return p.wildcard ? name.length > p.name.length && name.endsWith(p.name) : name === p.name;
}

/** Whether every host `b` matches is matched by `a` too (for unreachable-route detection). */
export function hostCovers(a: HostPattern | undefined, b: HostPattern | undefined): boolean {
  if (!a) return true;
  if (!b) return false;
  if (a.port !== '' && a.port !== b.port) return false;
  if (!a.wildcard) return !b.wildcard && a.name === b.name;
  return (
    b.name.endsWith(a.name) && (b.wildcard ? b.name.length >= a.name.length : b.name.length > a.name.length)
  );
}
