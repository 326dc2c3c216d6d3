import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What `gatehouse_sessions` shows (the session layer's `SessionCensus` has this shape). */
export interface SessionCounts {
  withRefreshToken: number;
  withoutRefreshToken: number;
}

/** Counters and histograms for one gateway instance (own registry: several gateways may share a process in tests). */
export class GatewayMetrics {
  readonly registry = new Registry();
  /**
   * Requests since the last scrape, by decision: every request counts here (a plain increment),
   * and the counter takes them over when it is collected. prom-client's `inc` with a label hashes
   * the labels, validates them and allocates a result on each call, on every request's path.
   */
  private readonly uncollected = new Map<string, number>();
  readonly requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Requests by decision',
    labelNames: ['decision'] as const,
    registers: [this.registry],
    collect: () => this.collectRequests(),
  });

  /** One request answered with this decision (`gatehouse_requests_total{decision}`). */
  countRequest(decision: string): void {
    this.uncollected.set(decision, (this.uncollected.get(decision) ?? 0) + 1);
  }

  private collectRequests(): void {
    for (const [decision, n] of this.uncollected) this.requests.inc({ decision }, n);
    this.uncollected.clear();
  }
  readonly refreshes = new Counter({
    name: 'gatehouse_refresh_total',
    help: 'Refresh attempts by result class (ok, terminal, transient, reused)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly refreshFailures = new Counter({
    name: 'gatehouse_refresh_failures_total',
    help: "Failed refresh grants by class (terminal: the session ended; transient: kept, retried) and the provider's error code (an RFC 6749 code, http_<status>, unreachable, or other)",
    labelNames: ['class', 'error'] as const,
    registers: [this.registry],
  });
  readonly refreshTokenAge = new Histogram({
    name: 'gatehouse_refresh_token_age_seconds',
    help: 'Age of the refresh token a grant used (since it was issued or last rotated), by result: where terminal failures cluster is the lifetime the provider gives refresh tokens (e.g. 7 days for a Google app in Testing)',
    labelNames: ['result'] as const,
    // From minutes (rotation every access-token lifetime) to the 90-day lifetimes some providers use.
    buckets: [60, 300, 900, 3600, 14400, 43200, 86400, 259200, 604800, 1209600, 2592000, 7776000],
    registers: [this.registry],
  });
  readonly coalesced = new Counter({
    name: 'gatehouse_refresh_coalesced_total',
    help: 'Requests that waited on a refresh already in flight instead of starting one',
    registers: [this.registry],
  });
  readonly openSockets = new Gauge({
    name: 'gatehouse_websockets_open',
    help: 'Upgraded (WebSocket) connections currently proxied and bound to a session',
    registers: [this.registry],
  });
  readonly socketsEnded = new Counter({
    name: 'gatehouse_websockets_ended_total',
    help: 'Upgraded connections closed by the gateway because their session ended (401) or lost access (403)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'gatehouse_connections_refused_total',
    help: 'Client connections refused because server.maxConnections were open',
    registers: [this.registry],
  });
  readonly connectionsStalled = new Counter({
    name: 'gatehouse_connections_stalled_total',
    help: 'Client connections closed because the client stopped reading (server.writeTimeoutSeconds)',
    registers: [this.registry],
  });
  readonly tokenLatency = new Histogram({
    name: 'gatehouse_idp_token_seconds',
    help: 'Latency of IdP token endpoint calls',
    labelNames: ['grant'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly recordsRejected = new Counter({
    name: 'gatehouse_session_records_rejected_total',
    help: 'Session reads answered "no session" because the stored record failed verification (reason: invalid = edited or copied from another session, unsigned = no MAC (written before the upgrade), unknown_key = signed with a secret no longer configured, malformed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly silentReauth = new Counter({
    name: 'gatehouse_silent_reauth_total',
    help: 'Silent re-authorizations (prompt=none) of sessions without a refresh token, by reason (upgrade: a live session, to obtain a refresh token; expired: its access token expired, before the login page) and result: ok (the session was replaced by a new one), declined (login_required, consent_required, interaction_required), error (any other answer); on declined and error an upgraded session is kept, an expired one signs in interactively at once',
    labelNames: ['result', 'reason'] as const,
    registers: [this.registry],
  });

  /** Where `gatehouse_sessions` is counted from at scrape time (SessionService: the store's census). */
  private sessionCensus: (() => Promise<SessionCounts | undefined>) | undefined;
  readonly sessions = new Gauge({
    name: 'gatehouse_sessions',
    help: 'Live sessions by refresh (ok: it has a refresh token; none: it has not), counted when scraped: with the memory store every session of this replica, exactly; with Redis the sessions of all replicas from a bounded SCAN of the shared store (exact up to 1000 sessions, a 1000-session sample beyond; reused for a minute; see docs/operations.md)',
    labelNames: ['refresh'] as const,
    registers: [this.registry],
    collect: async () => {
      const c = await this.sessionCensus?.().catch(() => undefined);
      if (!c) {
        this.sessions.reset();
        return;
      }
      this.sessions.set({ refresh: 'ok' }, c.withRefreshToken);
      this.sessions.set({ refresh: 'none' }, c.withoutRefreshToken);
    },
  });

  /** Counts `gatehouse_sessions` from `census` on every scrape (one source: the last one given). */
  countSessionsWith(census: () => Promise<SessionCounts | undefined>): void {
    this.sessionCensus = census;
  }

  /** Requests served from the verified-token cache since the last scrape (see `uncollected`: same reason). */
  private cachedBearers = 0;
  readonly bearerVerifications = new Counter({
    name: 'gatehouse_bearer_verifications_total',
    help: 'Bearer tokens checked, by method (jwt, introspection) and result (ok, cached, invalid, unavailable)',
    labelNames: ['method', 'result'] as const,
    registers: [this.registry],
    collect: () => {
      if (this.cachedBearers === 0) return;
      this.bearerVerifications.inc({ method: 'jwt', result: 'cached' }, this.cachedBearers);
      this.cachedBearers = 0;
    },
  });

  /** A bearer request answered from the verified-token cache: `{method="jwt",result="cached"}`, counted at scrape time. */
  countCachedBearer(): void {
    this.cachedBearers++;
  }
  readonly introspections = new Counter({
    name: 'gatehouse_introspection_total',
    help: 'Token introspection by outcome: call_active, call_inactive, call_failed (IdP calls); cache_hit, cache_negative_hit, coalesced (no call); budget_full (refused, 503)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(defaultMetrics = false) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
