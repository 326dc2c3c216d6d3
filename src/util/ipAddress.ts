import { isIP } from 'node:net';

/* Address spellings, shared by the client-address resolver (http) and the login limits (engine). */

/** `::ffff:10.0.0.1` → `10.0.0.1`; `[::1]` → `::1`; zone ids dropped. */
export function plainAddress(a: string): string {
  let s = a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a;
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (s.toLowerCase().startsWith('::ffff:') && isIP(s.slice(7)) === 4) return s.slice(7);
  return s;
}

/**
 * The unit a per-client limit counts: an IPv4 address, or an IPv6 /64 (one subscriber usually
 * holds a whole /64, so counting single IPv6 addresses would be no limit at all).
 */
export function rateLimitSubject(address: string): string {
  const a = plainAddress(address);
  if (isIP(a) !== 6) return a;
  return `${expandIpv6(a).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, lower-case, without leading zeros. */
function expandIpv6(a: string): string[] {
  let s = a.toLowerCase();
  // An embedded IPv4 tail (`::1.2.3.4`) becomes two groups.
  const v4 = s.match(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    const [, b1, b2, b3, b4] = v4.map(Number) as [number, number, number, number, number];
    s = `${s.slice(0, v4.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => (Number.parseInt(g, 16) || 0).toString(16));
}
