import type { GatewayMetrics } from '../metrics.js';
import { OidcError } from '../oidc/errors.js';
import type { TokenResult } from '../oidc/tokenResult.js';
import type { SessionRecord } from '../session/record.js';
import type { SessionService } from '../session/service.js';
import type { Clock } from '../util/clock.js';
import { describeCause } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { noTracing, type Tracing } from '../util/tracing.js';
import { LeaseKeeper } from './leaseKeeper.js';
import { graceWindowMs, type RefreshSettings } from './policy.js';

export type RefreshOutcome =
  | { kind: 'ok'; record: SessionRecord }
  | { kind: 'terminal'; reason: string }
  | { kind: 'transient'; reason: string; retryAfterSec: number };

export interface Refresher {
  refresh(refreshToken: string, previousClaims: Record<string, unknown> | undefined): Promise<TokenResult>;
}

export interface CoordinatorSettings extends RefreshSettings {
  /** How long a request waits for a refresh before it is answered from the outage rules. */
  waitTimeoutMs: number;
  retryBackoffMs: number;
  /** Cross-replica lease; longer than the IdP call's hard timeout, renewed while the refresh runs. */
  leaseMs: number;
  /** Bound on concurrently refreshing sessions in this replica. */
  maxInFlight: number;
}

interface InFlight {
  promise: Promise<RefreshOutcome>;
  /** One shared deadline per refresh (not one timer per waiting request). */
  deadline: Promise<RefreshOutcome>;
  /** Requests that joined this refresh after it started (its span's `gatehouse.refresh.waiters`). */
  waiters: number;
}

/**
 * Single flight per session: however many requests find a session due for refresh, one grant is
 * made and everybody gets its result. Within a replica a map of in-flight promises coalesces;
 * across replicas the store's lease lock does, with a re-read after taking the lock (another
 * replica may have just refreshed) and compare-and-set on the record's version.
 *
 * A request that waits longer than `waitTimeoutMs` is answered without the result, but the grant
 * itself is never abandoned: with refresh-token rotation, a grant that the IdP completed after we
 * stopped listening would burn the old token, so a late answer is still stored.
 */
export class RefreshCoordinator {
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly sessions: SessionService,
    private readonly refresher: Refresher,
    private readonly s: CoordinatorSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly metrics: GatewayMetrics,
    private readonly tracing: Tracing = noTracing,
  ) {}

  get pending(): number {
    return this.inFlight.size;
  }

  /** Resolves when every refresh in flight now (background ones included) has finished. */
  async settled(): Promise<void> {
    while (this.inFlight.size) {
      await Promise.all([...this.inFlight.values()].map((e) => e.promise));
    }
  }

  /** Starts (or joins) the refresh of `key` and waits for it, at most `waitTimeoutMs`. */
  refresh(key: string, seen: SessionRecord): Promise<RefreshOutcome> {
    const existing = this.inFlight.get(key);
    if (existing) {
      existing.waiters++;
      this.metrics.coalesced.inc();
      return Promise.race([existing.promise, existing.deadline]);
    }
    if (this.inFlight.size >= this.s.maxInFlight) {
      return Promise.resolve({
        kind: 'transient',
        reason: 'too many refreshes in progress',
        retryAfterSec: 1,
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<RefreshOutcome>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            kind: 'transient',
            reason: 'the identity provider did not answer in time',
            retryAfterSec: Math.ceil(this.s.retryBackoffMs / 1000) || 1,
          }),
        this.s.waitTimeoutMs,
      );
      timer.unref();
    });
    const entry: InFlight = { promise: undefined as never, deadline, waiters: 0 };
    // One span per single flight, however many requests wait on it: they are counted, not spanned.
    const promise = this.tracing
      .span('gatehouse.refresh', 'internal', {}, async (span) => {
        const outcome = await this.lead(key, seen);
        span.setAttributes({
          'gatehouse.refresh.outcome': outcome.kind,
          'gatehouse.refresh.waiters': entry.waiters,
        });
        // The class only: a transient reason may quote the provider's error_description.
        if (outcome.kind !== 'ok') span.fail(`refresh ${outcome.kind}`);
        return outcome;
      })
      .catch((err): RefreshOutcome => {
        this.logger.error(
          { session: key.slice(0, 12), err: describeCause(err) },
          'refresh failed unexpectedly',
        );
        return { kind: 'transient', reason: 'internal error during refresh', retryAfterSec: 1 };
      })
      .finally(() => {
        clearTimeout(timer);
        this.inFlight.delete(key);
      });
    entry.promise = promise;
    this.inFlight.set(key, entry);
    return Promise.race([promise, deadline]);
  }

  /** Fire-and-forget refresh inside the grace window; the request does not wait. */
  refreshInBackground(key: string, seen: SessionRecord): void {
    if (this.inFlight.has(key)) return;
    void this.refresh(key, seen);
  }

  private isFresh(rec: SessionRecord, now: number): boolean {
    return now < rec.accessExpiresAt - graceWindowMs(rec, this.s);
  }

  private async lead(key: string, seen: SessionRecord): Promise<RefreshOutcome> {
    const lock = this.sessions.store.lock;
    if (!lock) return this.grant(key, seen);
    const lockName = `refresh:${key}`;
    // Bounded: the lease guarantees progress; after a few rounds we report a transient failure.
    for (let round = 0; round < 4; round++) {
      const token = await lock.acquire(lockName, this.s.leaseMs);
      if (token) {
        const lease = new LeaseKeeper(lock, lockName, token, this.s.leaseMs, this.logger, key.slice(0, 12));
        try {
          return await this.grant(key, seen);
        } finally {
          lease.stop();
          await lock.release(lockName, token).catch(() => undefined);
        }
      }
      this.metrics.coalesced.inc();
      await lock.waitForRelease(lockName, this.s.leaseMs);
      const current = await this.sessions.store.get(key, { fresh: true });
      if (!current) return { kind: 'terminal', reason: 'session ended' };
      if (current.version !== seen.version && this.isFresh(current, this.clock.now())) {
        return { kind: 'ok', record: current };
      }
      seen = current;
    }
    return { kind: 'transient', reason: 'refresh lock contention', retryAfterSec: 1 };
  }

  /** Holding the lock (or alone): re-read, grant, compare-and-set, classify. */
  private async grant(key: string, seen: SessionRecord): Promise<RefreshOutcome> {
    const store = this.sessions.store;
    const current = await store.get(key, { fresh: true });
    if (!current) return { kind: 'terminal', reason: 'session ended' };
    const now = this.clock.now();
    if (current.version !== seen.version && this.isFresh(current, now)) {
      return { kind: 'ok', record: current };
    }
    const tokens = this.sessions.tokens(current);
    if (!tokens.refreshToken) return { kind: 'terminal', reason: 'no refresh token' };
    const started = performance.now();
    let result: TokenResult;
    try {
      result = await this.refresher.refresh(tokens.refreshToken, idClaimsOf(current));
    } catch (err) {
      this.metrics.tokenLatency.observe({ grant: 'refresh_token' }, (performance.now() - started) / 1000);
      return this.failed(key, current, err);
    }
    this.metrics.tokenLatency.observe({ grant: 'refresh_token' }, (performance.now() - started) / 1000);
    this.observeTokenAge(current, 'ok');
    if (result.claims && typeof result.claims.sub === 'string' && result.claims.sub !== current.sub) {
      await store.delete(key);
      this.metrics.refreshes.inc({ result: 'terminal' });
      this.logger.warn(
        { session: key.slice(0, 12), class: 'terminal' },
        'failed to renew OIDC token: subject changed',
      );
      return { kind: 'terminal', reason: 'the refreshed identity belongs to another user' };
    }
    let base = current;
    // CAS loop: a concurrent touch or writer may have moved the version; our tokens are the newest.
    for (let i = 0; i < 3; i++) {
      const next = this.sessions.refreshed(base, result);
      if (await this.putRetrying(key, next, base.version)) {
        this.metrics.refreshes.inc({ result: 'ok' });
        this.logger.info(
          {
            session: key.slice(0, 12),
            class: 'ok',
            rotated: result.rotated,
            expiresInMs: next.accessExpiresAt - now,
          },
          'OIDC token renewed',
        );
        return { kind: 'ok', record: next };
      }
      const again = await store.get(key, { fresh: true });
      if (!again) return { kind: 'terminal', reason: 'session ended' };
      base = again;
    }
    return { kind: 'transient', reason: 'could not store the renewed session', retryAfterSec: 1 };
  }

  /**
   * The grant has rotated the refresh token: losing the new one to a brief store error would end
   * the session at the next refresh (the old one is spent). So the write is retried a few times
   * (about 3 s in all) before the outcome becomes a transient failure.
   */
  private async putRetrying(key: string, next: SessionRecord, expectedVersion: number): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.sessions.store.put(key, next, this.sessions.ttl(next), expectedVersion);
      } catch (err) {
        if (attempt >= 4) throw err;
        this.logger.warn(
          { session: key.slice(0, 12), attempt: attempt + 1, err: String(err) },
          'storing renewed tokens failed; retrying',
        );
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  /** How old the refresh token was that this grant used (refreshIssuedAt: issued or last rotated). */
  private observeTokenAge(rec: SessionRecord, result: 'ok' | 'terminal' | 'transient'): void {
    const age = (this.clock.now() - rec.refreshIssuedAt) / 1000;
    if (age >= 0) this.metrics.refreshTokenAge.observe({ result }, age);
  }

  private async failed(key: string, current: SessionRecord, err: unknown): Promise<RefreshOutcome> {
    const store = this.sessions.store;
    // A refresher failure that is not coded (a fake's, or a bug's) is transient: never a logout.
    const e =
      err instanceof OidcError
        ? err
        : new OidcError('invalid_response', { description: describeCause(err) }, err);
    const log = {
      session: key.slice(0, 12),
      class: e.kind,
      error: e.oauthError,
      error_description: e.description,
      status: e.status,
    };
    this.metrics.refreshFailures.inc({ class: e.kind, error: errorLabel(e.oauthError) });
    this.observeTokenAge(current, e.kind);
    if (e.kind === 'terminal') {
      // Before evicting: has someone (another replica) rotated the token meanwhile? Then use theirs.
      const latest = await store.get(key, { fresh: true });
      if (latest && latest.version !== current.version && latest.accessExpiresAt > this.clock.now()) {
        this.metrics.refreshes.inc({ result: 'reused' });
        return { kind: 'ok', record: latest };
      }
      await store.delete(key);
      this.metrics.refreshes.inc({ result: 'terminal' });
      this.logger.warn(
        log,
        `failed to renew OIDC token: ${e.oauthError ?? 'error'}${e.description ? ` (${e.description})` : ''}`,
      );
      return { kind: 'terminal', reason: 'your session has ended at the identity provider' };
    }
    this.metrics.refreshes.inc({ result: 'transient' });
    this.logger.warn(log, 'OIDC token renewal failed transiently; session kept');
    const retryAt = this.clock.now() + this.s.retryBackoffMs;
    const next: SessionRecord = { ...current, version: current.version + 1, refreshRetryAt: retryAt };
    // Best effort: if this write loses a race, the next request simply tries again.
    await store.put(key, next, this.sessions.ttl(next), current.version).catch(() => false);
    return {
      kind: 'transient',
      reason: e.description ?? 'the identity provider is unavailable',
      retryAfterSec: Math.ceil(this.s.retryBackoffMs / 1000) || 1,
    };
  }
}

/**
 * The provider's error code as a metric label: the codes RFC 6749 §5.2 and our own classification
 * (errors.ts) produce, anything else `other` — a provider's free-form code must not create series
 * without bound.
 */
const ERROR_LABELS = new Set([
  'invalid_grant',
  'invalid_client',
  'invalid_request',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'temporarily_unavailable',
  'server_error',
  'unreachable',
]);
function errorLabel(code: string | undefined): string {
  if (code === undefined) return 'none';
  if (ERROR_LABELS.has(code) || /^http_[1-5]\d\d$/.test(code)) return code;
  return 'other';
}

/** Claims to carry over when a refresh response has no ID token (userinfo mode re-fetches). */
function idClaimsOf(rec: SessionRecord): Record<string, unknown> {
  return { sub: rec.sub };
}
