import { normalizePath } from './normalizePath.js';

declare const readingsBrand: unique symbol;

/**
 * Every way an upstream may read one request path (see pathReadings), computed once per request
 * and handed to every check that matches a path: skipAuth (exemptionCovers) and the rules
 * (authorize, ruleCovers). Branded so that a raw path or a hand-made `[path]` cannot be passed
 * where the readings are meant: deciding on one reading only is how a path rule is bypassed.
 */
export type PathReadings = readonly string[] & { readonly [readingsBrand]: true };

function branded(paths: readonly string[]): PathReadings {
  return paths as PathReadings;
}

/**
 * What may give a path a second reading; a clean path is tested once against it. Non-ASCII
 * characters are not in it: every front door refuses them unencoded (refuseTarget), so a path
 * reaching the rules is ASCII, and its non-ASCII characters are `%` escapes.
 */
const SLOW = /[%;\\]|\.(?:\/|$)/;
/** What the lenient reading (servlet params, decoded `%2F`, `#`, double decoding) changes. */
const AMBIGUOUS = /[;\\#]|%(?:2f|5c|23|25|3b|3f)/i;
/** A segment that Windows / IIS would read without its trailing dots or spaces. */
const TRAILING_DOT_OR_SPACE = /[. ](?:\/|$)|%20(?:\/|$)/;
/** Escapes of non-ASCII bytes, raw non-ASCII characters, and `%20` (for the Windows reading). */
const NON_ASCII = /%[89a-f][0-9a-f]|%20|[\u0080-\uffff]/i;

/**
 * The reading of servers that drop `;params` from segments (Tomcat, Jetty, Spring; `%3B` too, for
 * those that decode first), decode `%2F` and `\`/`%5C` to `/`, end the path at an encoded `#` or `?`, or
 * decode twice (`%25`).
 */
function lenientReading(path: string): string {
  // Escapes coming from normalizePath are upper-case; NFKC output may hold raw `;`, `\`, `#`.
  let s = path.includes('%25') ? normalizePath(path.replace(/%25/g, '%')) : path;
  s = s.replace(/%3B/gi, ';');
  // An encoded `#` or `?` ends the path for a server that decodes before it parses.
  const hash = s.search(/%23|%3F|#/i);
  if (hash !== -1) s = s.slice(0, hash);
  return normalizePath(
    s
      .replace(/%2F|%5C|\\/gi, '/')
      .split('/')
      .map((seg) => {
        const semi = seg.indexOf(';');
        return semi === -1 ? seg : seg.slice(0, semi);
      })
      .join('/'),
  );
}

const utf8 = new TextDecoder('utf-8');

/**
 * `path` with escaped non-ASCII bytes (and raw ones, read as Latin-1, though refuseTarget refuses
 * those) decoded as UTF-8, and `%20` as a space; other escapes stay as they are. Invalid UTF-8
 * becomes U+FFFD (such paths are refused before: see refuseTarget).
 */
function decodeNonAscii(path: string): string {
  const bytes: number[] = [];
  let out = '';
  const flush = () => {
    if (bytes.length) out += utf8.decode(Uint8Array.from(bytes));
    bytes.length = 0;
  };
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    const b = c === 0x25 ? Number.parseInt(path.slice(i + 1, i + 3), 16) : Number.NaN;
    if (!Number.isNaN(b) && /^[0-9a-fA-F]{2}$/.test(path.slice(i + 1, i + 3))) {
      if (b >= 0x80) {
        bytes.push(b);
        i += 2;
        continue;
      }
      flush();
      if (b === 0x20) {
        out += ' ';
        i += 2;
        continue;
      }
      out += '%';
      continue;
    }
    if (c >= 0x80 && c <= 0xff) {
      bytes.push(c);
      continue;
    }
    flush();
    out += path[i];
  }
  flush();
  return out;
}

/**
 * Each segment as Windows and IIS read it: trailing dots and spaces dropped (`admin.` and
 * `admin ` are `admin`); a segment of only dots and spaces is `..` when it starts with two dots
 * (`.. ` is the parent), `.` otherwise.
 */
function stripTrailingDotsAndSpaces(path: string): string {
  return normalizePath(
    path
      .split('/')
      .map((seg) => {
        if (!/[. ]$/.test(seg)) return seg;
        const stripped = seg.replace(/[. ]+$/, '');
        if (stripped !== '') return stripped;
        return seg.startsWith('..') ? '..' : '.';
      })
      .join('/'),
  );
}

/**
 * The ways an upstream might read a path. Besides the canonical form:
 * - the lenient reading (see lenientReading): `/public/..;/admin` and `/public/..%3B/admin` are
 *   `/admin` to Tomcat and Spring, `/admin%2Fusers` is `/admin/users` to gunicorn and older Go,
 *   `/admin%23x` is `/admin` to a server that decodes before it parses, `%252F` is `/` to one
 *   that decodes twice (only reachable with `proxy.allowEncodedPercent`);
 * - for each of these, the decoded reading (escaped UTF-8 decoded: `/adm%C4%B1n` is `/admın`,
 *   which .NET's OrdinalIgnoreCase upper-cases to `/ADMIN`: ruleCovers folds case both ways), its
 *   NFKC form (`/%EF%BD%81dmin`, fullwidth, is `/admin` to best-fit and NFKC mappings), and both
 *   with trailing dots and spaces dropped per segment (Windows, IIS: `/admin.`, `/admin%20`).
 * Decisions must hold under every reading: a skip-auth prefix only applies if every reading is
 * under it, a rule applies if any reading is. Usually this is just `[path]` (a path without `%`,
 * `;`, `\` or a segment ending in a dot is never read another way; raw non-ASCII characters
 * are refused before they get here, see refuseTarget).
 */
export function pathReadings(path: string): PathReadings {
  const canonical = normalizePath(path);
  if (!SLOW.test(canonical)) return branded([canonical]);
  const out = [canonical];
  const add = (p: string) => {
    if (!out.includes(p)) out.push(p);
  };
  const bases = AMBIGUOUS.test(canonical) ? [canonical, lenientReading(canonical)] : [canonical];
  if (bases.length > 1) add(bases[1]!);
  for (const base of bases) {
    const decoded = NON_ASCII.test(base) ? normalizePath(decodeNonAscii(base)) : base;
    add(decoded);
    const nfkc = decoded.normalize('NFKC');
    const forms = [decoded];
    if (nfkc !== decoded) {
      const n = normalizePath(nfkc);
      forms.push(n);
      add(n);
      if (AMBIGUOUS.test(n)) {
        const l = lenientReading(n);
        forms.push(l);
        add(l);
      }
    }
    for (const f of forms) if (TRAILING_DOT_OR_SPACE.test(f)) add(stripTrailingDotsAndSpaces(f));
  }
  return branded(out);
}
