// `issuerPaths` (`--issuer-path`): names of the extra issuers served next to the root one, each at
// `<root>/<name>` (Keycloak's `realms/main`, Entra's `<tenant-id>/v2.0`). A name becomes part of
// every URL of its issuer and of the router's prefix match, so anything that could make two
// issuers answer one path, or a name mean another path once normalised, is refused at start.

/** Thrown for a bad name; the message starts with `issuerPaths` so the CLI can name its flag. */
export class IssuerPathError extends Error {}

const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const MAX_LENGTH = 200;

/** The first segment of a root path: `/api/v3/user` → `api`. */
function firstSegment(path: string): string {
  return path.split('/')[1] ?? '';
}

/**
 * Checks every name and returns them unchanged. `rootPaths` are the root issuer's endpoint paths
 * (the router's table): a name may not start with one of their first segments, or the root
 * endpoint would be unreachable (`authorize`) or one URL would look like both (`login/x/token`).
 */
export function validateIssuerPaths(names: unknown, rootPaths: readonly string[]): string[] {
  if (names === undefined) return [];
  if (!Array.isArray(names)) throw new IssuerPathError('issuerPaths must be an array of names');
  const reserved = new Set(['__admin', ...rootPaths.map(firstSegment).filter((s) => s !== '')]);
  const seen: string[] = [];
  for (const name of names) {
    const bad = (why: string) => new IssuerPathError(`issuerPaths: "${String(name)}" ${why}`);
    if (typeof name !== 'string' || name === '') throw bad('must be a non-empty string');
    if (name.length > MAX_LENGTH) throw bad(`is longer than ${MAX_LENGTH} characters`);
    if (name.startsWith('/') || name.endsWith('/'))
      throw bad('must not start or end with "/" (write it as realms/main)');
    const segments = name.split('/');
    for (const s of segments) {
      if (!SEGMENT.test(s))
        throw bad('may hold only segments of A-Z a-z 0-9 . _ ~ - separated by single "/"');
      if (s === '.' || s === '..') throw bad('must not have a "." or ".." segment');
      if (s === '__admin') throw bad('must not have an "__admin" segment (the admin API lives there)');
    }
    const first = segments[0] ?? '';
    if (reserved.has(first))
      throw bad(
        `clashes with the root issuer's endpoint /${first}; names must not start with ` +
          `${[...reserved].sort().join(', ')} (prefix it, e.g. realms/${name})`,
      );
    // One issuer per path: a name inside another's space would take over part of its URLs.
    const clash = seen.find((o) => o === name || name.startsWith(`${o}/`) || o.startsWith(`${name}/`));
    if (clash !== undefined)
      throw bad(clash === name ? 'is given twice' : `overlaps "${clash}" (one may not contain the other)`);
    seen.push(name);
  }
  return seen;
}
