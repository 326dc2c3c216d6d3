/**
 * Prefix matching of a request path, on its readings: an exemption (skipAuth) must hold for every
 * reading, a restriction (a rule) applies when any reading falls under it.
 */
import type { PathReadings } from './pathReadings.js';

const SLASH = 0x2f;

/**
 * The first `n` characters of `a` and `b` agree (ASCII letters in either case when `ignoreCase`).
 * `undefined` when they differ at a non-ASCII character of `a`, which may still fold to `b`.
 */
function sameStart(a: string, b: string, n: number, ignoreCase: boolean): boolean | undefined {
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (!ignoreCase) return false;
    if (x >= 0x80) return undefined;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Path-prefix matching on segment boundaries: `/admin` (or `/admin/`) covers `/admin` and
 * `/admin/x`, not `/administrator`. No allocation: this runs for every rule on every request.
 * Ignoring case, a path with non-ASCII characters is also compared upper-cased and lower-cased
 * (a decoded reading: `/admın` is `/ADMIN` to .NET's OrdinalIgnoreCase, `/ſecret` is `/SECRET`,
 * `/\u212Aey` (Kelvin sign) is `/key`) — only then, and only those paths, allocate.
 */
function hasPrefix(path: string, prefix: string, ignoreCase = false, folded = false): boolean {
  let n = prefix.length;
  if (n > 0 && prefix.charCodeAt(n - 1) === SLASH) n--;
  if (n === 0) return true;
  const same = path.length < n ? ignoreCase && undefined : sameStart(path, prefix, n, ignoreCase);
  if (same === undefined) {
    // Folding may change the length (`ß` is `SS`); the folded strings are compared ASCII-wise.
    return (
      !folded &&
      NON_ASCII.test(path) &&
      (hasPrefix(path.toUpperCase(), prefix, true, true) || hasPrefix(path.toLowerCase(), prefix, true, true))
    );
  }
  if (!same) return false;
  return path.length === n || path.charCodeAt(n) === SLASH;
}

/** One reading under a prefix on segment boundaries, ASCII case ignored (route selection). */
export function pathUnder(path: string, prefix: string): boolean {
  return hasPrefix(path, prefix, true);
}

/**
 * True when *every* reading of the path (every way an upstream may read it) is under `prefix`, by
 * exact case — the safe reading for exemptions such as skipAuth (`/public` does not open
 * `/PUBLIC/x`, which a case-insensitive upstream may route elsewhere).
 */
export function exemptionCovers(readings: PathReadings, prefix: string): boolean {
  for (const p of readings) if (!hasPrefix(p, prefix)) return false;
  return true;
}

/**
 * True when *any* reading of the path is under a rule's prefix — the safe reading for
 * restrictions. Case-insensitive unless the rule says `caseSensitive: true`, because Express,
 * ASP.NET and IIS route `/ADMIN` to the `/admin` handler; beyond ASCII, a reading is compared
 * upper-cased and lower-cased too (see hasPrefix).
 */
export function ruleCovers(readings: PathReadings, prefix: string, caseSensitive = false): boolean {
  for (const p of readings) if (hasPrefix(p, prefix, !caseSensitive)) return true;
  return false;
}
