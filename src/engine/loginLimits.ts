import type { Clock } from '../util/clock.js';
import { rateLimitSubject } from '../util/ipAddress.js';
import type { Logger } from '../util/log.js';
import { BoundedTtlMap } from '../util/lru.js';
import type { EngineContext } from './context.js';
import type { ErrorDecision } from './decision.js';
import type { RequestFacts } from './facts.js';

const MINUTE_MS = 60_000;

/**
 * `login.rateLimitPerMinute`: login starts per client (IPv4 address, IPv6 /64) in a one-minute
 * window, counted in the session store so every replica and worker shares one count. Beyond it:
 * 429 with Retry-After (a page for navigations, JSON for API calls). Runs before anything is
 * stored, so a flood costs one counter per client per minute.
 */
export async function loginRateLimited(
  ctx: EngineContext,
  f: RequestFacts,
  retryUrl: string,
): Promise<ErrorDecision | undefined> {
  const limit = ctx.cfg.login.rateLimitPerMinute;
  if (limit === 0) return undefined;
  const subject = rateLimitSubject(f.clientIp);
  const { count, resetInMs } = await ctx.sessions.store.countHit(`login:${subject}`, MINUTE_MS);
  if (count <= limit) return undefined;
  const retryAfterSec = Math.max(1, Math.ceil(resetInMs / 1000));
  // One line per client per window, not one per refused request.
  if (count === limit + 1) {
    ctx.logger.warn(
      { reqId: f.requestId, client: subject, limit, retryAfterSec },
      'login rate limit reached for a client (login.rateLimitPerMinute); answering 429',
    );
  }
  return {
    type: 'error',
    status: 429,
    code: 'rate_limited',
    reason: `Too many sign-in attempts from your network. Please wait ${retryAfterSec} s, then try again.`,
    setCookies: [],
    signInUrl: retryUrl,
    retryAfterSec,
  };
}

export interface CrowdWatchOptions {
  /** Distinct browsers from one address within `windowMs` that look like a proxy. */
  threshold?: number;
  windowMs?: number;
  /** An address warned about is not warned about again for this long. */
  quietMs?: number;
  /** Addresses tracked at once (the least recently started window goes first). */
  maxAddresses?: number;
}

/**
 * Notices a load balancer or reverse proxy that is not in `server.trustedProxies`: many distinct
 * browsers (signed login cookies) arriving from one client address within a minute. Then every
 * user behind it shares one login rate limit — worth one warning, not one per request.
 * Memory is bounded: at most `maxAddresses` windows of at most `threshold` short ids each.
 */
export class BrowserCrowdWatch {
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly quietMs: number;
  private readonly windows: BoundedTtlMap<string, Set<string>>;
  private readonly warned: BoundedTtlMap<string, true>;

  constructor(
    private readonly logger: Logger,
    clock: Clock,
    opts: CrowdWatchOptions = {},
  ) {
    this.threshold = opts.threshold ?? 50;
    this.windowMs = opts.windowMs ?? MINUTE_MS;
    this.quietMs = opts.quietMs ?? 10 * MINUTE_MS;
    const max = opts.maxAddresses ?? 2_000;
    const now = () => clock.now();
    this.windows = new BoundedTtlMap(max, now);
    this.warned = new BoundedTtlMap(max, now);
  }

  /** `browserId` came from `clientIp` with a valid login cookie. */
  note(clientIp: string, browserId: string, hasTrustedProxies: boolean): void {
    const subject = rateLimitSubject(clientIp);
    if (this.warned.peek(subject)) return;
    let seen = this.windows.peek(subject);
    if (!seen) {
      seen = new Set();
      this.windows.set(subject, seen, this.windowMs);
    }
    // 12 of the 22 characters (72 bits) are plenty to count distinct browsers.
    seen.add(browserId.slice(0, 12));
    if (seen.size < this.threshold) return;
    this.windows.delete(subject);
    this.warned.set(subject, true, this.quietMs);
    this.logger.warn(
      { client: subject, browsers: seen.size, withinSeconds: Math.round(this.windowMs / 1000) },
      hasTrustedProxies
        ? 'many browsers sign in from one client address: if it is a load balancer or proxy of yours, add it to server.trustedProxies, or all its users share one login rate limit'
        : 'many browsers sign in from one client address: if Gatehouse is behind a load balancer or reverse proxy, list it in server.trustedProxies, or all its users share one login rate limit',
    );
  }
}
