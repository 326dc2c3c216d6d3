import type { ErrorDecision } from './decision.js';

/**
 * Request targets that Gatehouse refuses (400) before any routing, because the gateway and the
 * application behind it could read them as different paths — and a path rule decided on one
 * reading is then bypassed through the other:
 * - `fragment`: a `#` anywhere. Browsers never send one; Node's URL parsers (Express, Koa,
 *   Fastify) cut the path there, so `/admin#x` is routed to `/admin`.
 * - `backslash`: `\` or `%5C` in the path. Some servers (IIS, ASP.NET, Windows file servers,
 *   several Java stacks) treat it as `/`, others as a plain character.
 * - `encoded_percent`: `%25` in the path (`%252e`, `%252f`, `%255c`): upstreams that decode twice
 *   read it as `.`, `/`, `\`. Allowed with `proxy.allowEncodedPercent: true`.
 * - `encoded_control`: `%00`–`%1F` or `%7F` in the path (or such a raw character, which only a
 *   forward-auth header or a middleware's URL can carry). C, CGI and PHP code ends a string at
 *   NUL and many servers trim whitespace, so `/admin%00.html` or `/admin%0a` is `/admin` there.
 * - `invalid_utf8`: percent-escapes in the path that are not valid UTF-8 — overlong forms such
 *   as `%c0%ae` (`.`) and `%c0%af` (`/`), stray continuation bytes, surrogates. Lenient decoders
 *   (old IIS, Tomcat CVE-2008-2938) read `/public/%c0%ae%c0%ae/admin` as `/admin`.
 * - `raw_non_ascii`: a byte above 0x7F that is not percent-encoded (RFC 3986 requires it to be).
 *   Node's parser refuses one in a request line already; a forward-auth URI header (read as
 *   Latin-1) or a middleware's URL could carry one. Refusing it keeps every path that reaches the
 *   rules ASCII, so pathReadings only looks for `%` (and `;`, `\`, trailing dots) on a clean path.
 * - `not_origin_form`: a target that does not start with `/` — the absolute form
 *   (`GET http://host/admin`) or `*`. The gateway would read `/http:/host/admin`, while Express
 *   and other frameworks route the absolute URL by its pathname (`/admin`).
 * - `bad_escape`: a `%` not followed by two hex digits (`%u002e`: IIS and http.sys decode `%uXXXX`,
 *   so `/public/%u002e%u002e/admin` is `/admin` there; RFC 3986 allows no other use of `%`).
 * With `proxy.allowEncodedPercent`, `encoded_control` and `invalid_utf8` also hold for the path
 * decoded once (`%2500`, `%25c0%25ae`), which a server that decodes twice reads.
 * The query string is not a path: `?q=%25`, `?q=a\b` or `?q=%0a` is fine; a `#` is refused there too.
 */
export type TargetRefusal =
  | 'fragment'
  | 'backslash'
  | 'encoded_percent'
  | 'encoded_control'
  | 'invalid_utf8'
  | 'raw_non_ascii'
  | 'not_origin_form'
  | 'bad_escape';

export interface TargetRules {
  /** `proxy.allowEncodedPercent`: accept `%25` in paths. */
  allowEncodedPercent: boolean;
}

export const STRICT_TARGET: TargetRules = { allowEncodedPercent: false };

/**
 * Anything that might be refused: one short character class, so a clean target costs this one
 * test and no allocation. Raw control characters are not in it: Node's parser refuses them in a
 * request line, and forward-auth refuses them in the URI headers before (BAD_URI_CHARS); they
 * are refused here too when the path has a `%` or a non-ASCII character.
 */
const SUSPECT = /[#%\\\u0080-\uffff]/;
const BACKSLASH = /\\|%5c/i;
const RAW_NON_ASCII = /[\u0080-\uffff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are refused
const CONTROL = /%(?:[01][0-9a-f]|7f)|[\u0000-\u001f\u007f]/i;
const ESCAPED_NON_ASCII = /%[89a-f][0-9a-f]/i;
const HEX = /^[0-9a-fA-F]{2}$/;
const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** True when the bytes an (ASCII) path stands for, escapes decoded, are valid UTF-8. */
function validUtf8(path: string): boolean {
  const bytes: number[] = [];
  for (let i = 0; i < path.length; i++) {
    if (path.charCodeAt(i) === 0x25 && HEX.test(path.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(path.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(path.charCodeAt(i));
    }
  }
  try {
    fatalUtf8.decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}

/** What is wrong with the bytes an ASCII path stands for (control characters, invalid UTF-8). */
function refuseBytes(path: string): TargetRefusal | undefined {
  if (CONTROL.test(path)) return 'encoded_control';
  if (ESCAPED_NON_ASCII.test(path) && !validUtf8(path)) return 'invalid_utf8';
  return undefined;
}

/** Why `target` (path plus query, as received) is refused; undefined when it is fine. */
export function refuseTarget(target: string, rules: TargetRules = STRICT_TARGET): TargetRefusal | undefined {
  if (target.charCodeAt(0) !== 0x2f /* / */) return 'not_origin_form';
  if (!SUSPECT.test(target)) return undefined;
  if (target.includes('#')) return 'fragment';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (BACKSLASH.test(path)) return 'backslash';
  if (RAW_NON_ASCII.test(path)) return 'raw_non_ascii';
  if (BAD_ESCAPE.test(path)) return 'bad_escape';
  const bytes = refuseBytes(path);
  if (bytes) return bytes;
  if (path.includes('%25')) {
    if (!rules.allowEncodedPercent) return 'encoded_percent';
    // What a server that decodes twice reads (`%2500` is NUL to it).
    return refuseBytes(path.replace(/%25/g, '%'));
  }
  return undefined;
}

/** Safe to show: what was wrong with the target (none of it echoes the target itself). */
export const TARGET_REFUSAL_REASONS: Record<TargetRefusal, string> = {
  fragment:
    'The request target contains "#". A fragment is never sent to a server, and servers disagree on where such a path ends.',
  backslash:
    'The path contains a backslash ("\\" or %5C). Servers disagree on whether it separates path segments.',
  encoded_percent:
    'The path contains an encoded percent sign (%25), which servers that decode twice read as another character. The gateway operator can allow it with proxy.allowEncodedPercent.',
  encoded_control:
    'The path contains a control character (%00 to %1F or %7F), which servers that end a path at NUL or trim whitespace read as a shorter path.',
  invalid_utf8:
    'The path contains percent-escapes that are not valid UTF-8 (such as the overlong %C0%AE), which lenient decoders read as another character.',
  raw_non_ascii:
    'The path contains a character above 0x7F that is not percent-encoded; a request target must encode it (%C3%A9 for "é").',
  not_origin_form:
    'The request target must be a path starting with "/" (this gateway is not a forward proxy: no absolute URL, no "*").',
  bad_escape:
    'The path contains a "%" that is not followed by two hex digits (such as %u002E), which some servers decode and others do not.',
};

/** The 400 answer for a refused target (page for navigations, JSON otherwise, like every error). */
export function targetRefusal(r: TargetRefusal, prefix = ''): ErrorDecision {
  return {
    type: 'error',
    status: 400,
    code: 'bad_request',
    reason: prefix + TARGET_REFUSAL_REASONS[r],
    setCookies: [],
  };
}
