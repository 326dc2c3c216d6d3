import { createHash } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { describeCause } from '../util/errors.js';
import { BoundedTtlMap } from '../util/lru.js';
import { Semaphore } from '../util/semaphore.js';
import type { BearerSettings } from './bearerSettings.js';
import { classifyOidcError } from './errors.js';
import { audiencesOf, invalid, type TokenVerdict } from './tokenVerdict.js';

/** One RFC 7662 call: the provider's introspection endpoint, client-authenticated. */
export type IntrospectionCall = (token: string) => Promise<Record<string, unknown>>;

export interface IntrospectorOptions {
  settings: BearerSettings['introspection'];
  /** An active token must name one of these in `aud`. */
  audiences: readonly string[];
  /** The provider's issuer: an answer naming another `iss` is refused. */
  issuer: () => string | undefined;
  clock: Clock;
  /** Counts each outcome: `call_active`, `call_inactive`, `call_failed`, `cache_hit`, `cache_negative_hit`, `coalesced`, `budget_full`. */
  count?: (event: string) => void;
  /** Logs why an introspection could not be done (never the token). */
  warn?: (msg: string) => void;
}

/** The SHA-256 of a token: cache keys and single-flight keys never hold the token itself. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Opaque tokens through RFC 7662 introspection. Answers are cached by token hash in a bounded
 * LRU — an active one at most `cacheSeconds` and never past the token's `exp`, an inactive one
 * `negativeCacheSeconds` — and calls are single-flight per token hash, so a burst of one token
 * costs one call. Calls run under a semaphore of their own (`maxConcurrent`, a queue of
 * `maxQueue`), not the provider's: a flood of random tokens fills this budget and gets 503s,
 * while logins and refreshes keep theirs. A failed call is never cached and never a 200.
 */
export class TokenIntrospector {
  private readonly cache: BoundedTtlMap<string, TokenVerdict>;
  private readonly inFlight = new Map<string, Promise<TokenVerdict>>();
  private readonly budget: Semaphore;

  constructor(
    private readonly call: IntrospectionCall,
    private readonly opts: IntrospectorOptions,
  ) {
    const s = opts.settings;
    this.cache = new BoundedTtlMap(s.maxCacheEntries, () => opts.clock.now());
    this.budget = new Semaphore(s.maxConcurrent, s.maxQueue);
  }

  async check(token: string, hash = tokenHash(token)): Promise<TokenVerdict> {
    const cached = this.cache.get(hash);
    if (cached) {
      if (
        cached.kind === 'active' &&
        cached.expiresAt !== undefined &&
        cached.expiresAt <= this.opts.clock.now()
      ) {
        this.cache.delete(hash);
        return invalid('the token has expired');
      }
      this.opts.count?.(cached.kind === 'active' ? 'cache_hit' : 'cache_negative_hit');
      return cached;
    }
    const pending = this.inFlight.get(hash);
    if (pending) {
      this.opts.count?.('coalesced');
      return pending;
    }
    // The map holds at most maxConcurrent + maxQueue entries: a call beyond that is refused at once.
    const p = this.introspect(token, hash).finally(() => this.inFlight.delete(hash));
    this.inFlight.set(hash, p);
    return p;
  }

  private async introspect(token: string, hash: string): Promise<TokenVerdict> {
    let answer: Record<string, unknown>;
    try {
      answer = await this.budget.run(() => this.call(token));
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('too many queued')) {
        this.opts.count?.('budget_full');
        return { kind: 'unavailable', retryAfterSec: 1, description: 'too many introspections in progress' };
      }
      this.opts.count?.('call_failed');
      const e = classifyOidcError(err);
      this.opts.warn?.(`token introspection failed: ${describeCause(e)}`);
      return { kind: 'unavailable', retryAfterSec: 5, description: e.message };
    }
    const verdict = this.judge(answer);
    const now = this.opts.clock.now();
    const s = this.opts.settings;
    if (verdict.kind === 'active') {
      this.opts.count?.('call_active');
      const untilExp = verdict.expiresAt === undefined ? Number.POSITIVE_INFINITY : verdict.expiresAt - now;
      const ttl = Math.min(s.cacheSeconds * 1000, untilExp);
      if (ttl > 0) this.cache.set(hash, verdict, ttl);
    } else {
      this.opts.count?.('call_inactive');
      if (s.negativeCacheSeconds > 0) this.cache.set(hash, verdict, s.negativeCacheSeconds * 1000);
    }
    return verdict;
  }

  /** RFC 7662 §2.2: `active` must be true; then exp, iss, token type and audience, like a JWT's. */
  private judge(a: Record<string, unknown>): TokenVerdict {
    if (a.active !== true) return invalid('the token is not active');
    const now = this.opts.clock.now();
    const exp = typeof a.exp === 'number' ? a.exp * 1000 : undefined;
    if (exp !== undefined && exp <= now) return invalid('the token has expired');
    if (typeof a.nbf === 'number' && a.nbf * 1000 > now + 30_000)
      return invalid('the token is not valid yet (nbf)');
    const iss = this.opts.issuer();
    if (
      typeof a.iss === 'string' &&
      iss !== undefined &&
      a.iss.replace(/\/$/, '') !== iss.replace(/\/$/, '')
    ) {
      return invalid('the token was issued by an issuer that is not accepted');
    }
    if (typeof a.token_type === 'string' && /refresh/i.test(a.token_type)) {
      return invalid('a refresh token is not an access token');
    }
    if (!audiencesOf(a).some((x) => this.opts.audiences.includes(x))) {
      return invalid('the token is not meant for this API (aud)');
    }
    return { kind: 'active', claims: a, expiresAt: exp };
  }
}
