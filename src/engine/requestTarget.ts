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
 * The query string is not a path: `?q=%25` or `?q=a\b` is fine; a `#` is refused there too.
 */
export type TargetRefusal = 'fragment' | 'backslash' | 'encoded_percent';

export interface TargetRules {
  /** `proxy.allowEncodedPercent`: accept `%25` in paths. */
  allowEncodedPercent: boolean;
}

export const STRICT_TARGET: TargetRules = { allowEncodedPercent: false };

/** Anything that might be refused. A clean target costs this one test and no allocation. */
const SUSPECT = /[#\\]|%(?:25|5c)/i;
const BACKSLASH = /\\|%5c/i;

/** Why `target` (path plus query, as received) is refused; undefined when it is fine. */
export function refuseTarget(target: string, rules: TargetRules = STRICT_TARGET): TargetRefusal | undefined {
  if (!SUSPECT.test(target)) return undefined;
  if (target.includes('#')) return 'fragment';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (BACKSLASH.test(path)) return 'backslash';
  if (!rules.allowEncodedPercent && path.includes('%25')) return 'encoded_percent';
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
