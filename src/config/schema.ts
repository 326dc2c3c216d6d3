import { isIP } from 'node:net';
import { z } from 'zod';
import { ASSERTION_CLAIMS } from '../assertion/settings.js';
import { bearerSettingsSchema } from '../oidc/bearerSettings.js';
import { type ConfiguredProviderSettings, providerSettingsSchema } from '../oidc/settings.js';
import { httpUrl } from '../util/httpUrl.js';

/**
 * The whole configuration surface. Every key has a default where a safe one exists; the loader
 * (load.ts) turns schema failures into messages that name the key and the fix.
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:4180');

const authzFields = {
  allowedEmailDomains: z.array(z.string().min(1)).default([]),
  allowedUsers: z.array(z.string().min(1)).default([]),
  allowedGroups: z.array(z.string().min(1)).default([]),
  allowedRoles: z.array(z.string().min(1)).default([]),
};

export const pathRuleSchema = z.object({
  pathPrefix: z.string().startsWith('/', 'must start with /'),
  /**
   * Rules match case-insensitively by default (Express, ASP.NET and IIS route `/Admin` to the
   * `/admin` handler); `true` for an upstream that routes by exact case.
   */
  caseSensitive: z.boolean().default(false),
  ...authzFields,
  /**
   * Scopes a request must have, all of them: a bearer token's `scope`/`scp`; a session's scopes
   * the provider granted at sign-in (docs/configuration.md, "requiredScopes").
   */
  requiredScopes: z
    .array(
      z
        .string()
        .regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is one word of printable ASCII without " or \\'),
    )
    .default([]),
});

/**
 * A route's host: a DNS name (`grafana.example.com`), optionally with a port, or a wildcard for
 * one or more labels (`*.example.com`, never `example.com` itself). Matched case-insensitively;
 * without a port it matches the host on any port.
 */
const routeHost = z
  .string()
  .regex(
    /^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::\d{1,5})?$/,
    'must be a host name (grafana.example.com), optionally with a port, or a wildcard (*.example.com)',
  )
  .transform((h) => h.toLowerCase());

const httpMethod = z
  .string()
  .regex(/^[A-Za-z]{1,20}$/, 'must be an HTTP method such as OPTIONS')
  .transform((m) => m.toUpperCase());

/** Per-route header settings: each key given overrides the global `headers.*` one for this route. */
const routeHeadersSchema = z
  .object({
    passAccessToken: z.boolean().optional(),
    passAuthorizationHeader: z.boolean().optional(),
    maxGroupsHeaderBytes: z.number().int().min(256).max(65536).optional(),
    /** Added to the global `headers.templates` for this route (a name in both: this route's wins). */
    templates: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/**
 * One application behind the gateway (docs/routes.md). Routes are tried in order; the first whose
 * host and pathPrefix match serves the request. Its policy is added to the global `authorization`
 * (both must allow), its skipAuth to the global one.
 */
export const routeSchema = z
  .object({
    /** Used in logs, metrics and the identity assertion's `aud`. Default: host + pathPrefix. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, 'letters, digits and . _ : / - only (at most 128)')
      .optional(),
    /** Exact host or `*.example.com`; absent: any host. */
    host: routeHost.optional(),
    /** Segment-bounded, matched case-insensitively like rules (`/grafana` covers `/Grafana/x`, not `/grafanax`). */
    pathPrefix: z
      .string()
      .regex(/^\/[\x21-\x7e]*$/, 'must start with / and hold no spaces or non-ASCII characters')
      .default('/'),
    /** Where this route's requests go. Optional: forward-auth routes have none. */
    upstream: httpUrl.optional(),
    /** Forward the path without the route's pathPrefix (`/grafana/api` → `/api`). */
    stripPathPrefix: z.boolean().default(false),
    ...authzFields,
    rules: z.array(pathRuleSchema.strict()).default([]),
    skipAuth: z.array(z.string().startsWith('/', 'must start with /')).default([]),
    /** Methods answered without authentication on this route (e.g. OPTIONS for CORS preflight). */
    methodsWithoutAuth: z.array(httpMethod).default([]),
    headers: routeHeadersSchema.prefault({}),
    /** Whether WebSocket upgrades are proxied on this route. */
    websocket: z.boolean().default(true),
    /** Keep-alive connections to this route's upstream at most. */
    upstreamConnections: z.number().int().min(1).max(10_000).default(256),
    /** Time the upstream has to answer with its response head. */
    upstreamTimeoutSeconds: z.number().positive().max(3600).default(60),
  })
  .strict();

/** `address/bits` (IPv4 or IPv6), or a bare address (a /32 or /128): exactly what node:net's BlockList takes. */
const cidr = z.string().refine(
  (v) => {
    const [addr = '', bits, extra] = v.split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined) return false;
    if (bits === undefined) return true;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  },
  { error: 'must be an IP address or CIDR with a valid prefix length, e.g. 10.0.0.0/8 or fd00::/8' },
);

const WORKERS_PROBLEM = 'must be a whole number from 1 to 1024, or auto (one per CPU the container may use)';

export const configSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:4180'),
    /** Limits that keep slow or numerous clients from holding the server (slowloris). */
    server: z
      .object({
        /** Time a client has to send the whole request head (at most requestTimeoutSeconds). */
        headersTimeoutSeconds: z.number().positive().max(600).default(20),
        /**
         * Time a client has to send the whole request, head and body (uploads included: a slower
         * upload needs a larger value). 0 = none. Upgraded WebSockets are exempt.
         */
        requestTimeoutSeconds: z.number().min(0).max(86_400).default(300),
        /** An idle keep-alive connection is closed after this long. */
        keepAliveTimeoutSeconds: z.number().positive().max(3600).default(65),
        /**
         * A response the client stops reading (no write progress) is cut off after this long, so
         * a client that never reads cannot hold a connection slot.
         */
        writeTimeoutSeconds: z.number().positive().max(3600).default(60),
        /**
         * Open client connections at most (WebSockets included); a socket beyond it gets a
         * `503` with `Connection: close` and is closed.
         */
        maxConnections: z.number().int().min(1).default(10_000),
        /**
         * Proxies (CIDRs) whose X-Forwarded-For is believed: the client is then the right-most
         * address not in this list. Empty: the client is the socket's peer.
         */
        trustedProxies: z.array(cidr).default([]),
        /**
         * Processes serving the listen socket (node:cluster): a number, or `auto` for one per CPU
         * the container may use (its cgroup `cpu.max` quota, rounded up, at most the cores).
         * More than one needs `session.store: redis` (docs/deployment.md, "Workers").
         */
        workers: z
          .preprocess(
            // An environment variable arrives as text: GATEHOUSE_SERVER_WORKERS=4.
            (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
            z.union(
              [
                z.number().int(WORKERS_PROBLEM).min(1, WORKERS_PROBLEM).max(1024, WORKERS_PROBLEM),
                z.literal('auto'),
              ],
              { error: WORKERS_PROBLEM },
            ),
          )
          .default(1),
      })
      .strict()
      .prefault({}),
    /** How requests are passed to the upstream. */
    proxy: z
      .object({
        /** Forward request headers whose name contains `_` (dropped by default, like nginx). */
        allowUnderscoreHeaders: z.boolean().default(false),
        /** Accept `%25` (an encoded percent) in paths; refused by default (double-encoding attacks). */
        allowEncodedPercent: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    publicUrl: httpUrl,
    /**
     * Where authenticated requests are proxied: the one-route case of `routes`. Optional:
     * forward-auth-only deployments have none.
     */
    upstream: httpUrl.optional(),
    /** Many applications behind one gateway, by host and path (docs/routes.md). Not with `upstream`. */
    routes: z.array(routeSchema).optional(),
    provider: providerSettingsSchema,
    session: z
      .object({
        secret: z.string().min(32, 'must be at least 32 characters (try: openssl rand -base64 48)'),
        /** Older secrets still accepted for cookies and token decryption during a rotation. */
        previousSecrets: z.array(z.string().min(32)).default([]),
        store: z.enum(['memory', 'redis']).default('memory'),
        cookieName: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
          .default('gatehouse'),
        /**
         * `.example.com`: the session cookie is sent to every host of that domain (named
         * `__Secure-…` with `Domain`, instead of the host-only `__Host-…`), so one sign-in serves
         * every route host under it. Unset: each route host gets its own host-only cookie through
         * a one-time hand-off after sign-in (docs/routes.md).
         */
        cookieDomain: z
          .string()
          .regex(
            /^\.?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/,
            'must be a domain with at least two labels, e.g. .example.com',
          )
          .transform((d) => (d.startsWith('.') ? d : `.${d}`).toLowerCase())
          .optional(),
        maxAgeSeconds: z.number().int().positive().default(86400),
        idleTimeoutSeconds: z.number().int().min(0).default(0),
        /**
         * Open WebSockets are re-authorized this often (and at once when their session changes),
         * and closed when their session has ended or lost access. 0: only when the session changes.
         */
        websocketRecheckSeconds: z.number().min(0).max(3600).default(30),
        /** Memory store capacity; the least recently used session is dropped beyond it. */
        maxSessions: z.number().int().positive().default(100_000),
        redisUrl: z.string().default('redis://127.0.0.1:6379'),
        redisKeyPrefix: z.string().default('gatehouse:'),
        /** Passed through to ioredis for Sentinel: [{host, port}] plus `redisSentinelName`. */
        redisSentinels: z.array(z.object({ host: z.string(), port: z.number().int() })).default([]),
        redisSentinelName: z.string().optional(),
        /** Cluster seed nodes: when set, ioredis Cluster mode is used. */
        redisClusterNodes: z.array(z.object({ host: z.string(), port: z.number().int() })).default([]),
        /** How long a replica may serve a session from its in-process cache before re-reading. */
        cacheTtlMs: z.number().int().min(0).max(60_000).default(2000),
        /**
         * A Redis command that has not answered within this many ms fails, and the request gets a
         * 503 instead of hanging (commands are never queued while Redis is unreachable).
         */
        redisCommandTimeoutMs: z.number().int().min(50).max(60_000).default(1000),
      })
      .strict(),
    refresh: z
      .object({
        graceSeconds: z.number().min(0).default(60),
        /** The grace window never exceeds this fraction of the token's lifetime. */
        graceMaxFraction: z.number().min(0).max(0.9).default(0.25),
        /** How long a request waits for a refresh before the outage rules answer it. */
        timeoutSeconds: z.number().positive().max(120).default(10),
        outageGraceSeconds: z.number().min(0).default(300),
        /** 0 = no limit. Sessions whose refresh token is older are ended (terminal). */
        maxRefreshTokenAgeSeconds: z.number().int().min(0).default(0),
        /** Used when neither the token response nor the tokens carry an expiry. */
        defaultTokenLifetimeSeconds: z.number().int().positive().default(300),
        /** After a transient failure, wait this long before the next attempt (per session). */
        retryBackoffSeconds: z.number().min(0).default(5),
        /** Cross-replica lease; must exceed provider.timeoutSeconds so a slow IdP cannot double-spend. Default: that + 5 s. */
        lockLeaseSeconds: z.number().positive().optional(),
        /**
         * A session without a refresh token, while the offline-access plan expects one, is upgraded
         * on its next navigation by one silent re-authorization (prompt=none); see docs/refresh.md.
         */
        silentUpgrade: z.boolean().default(true),
        /**
         * At most one silent attempt per session per this many seconds; a sign-in that brought no
         * refresh token counts as one, so a provider that never issues them costs no extra round trip.
         */
        silentUpgradeIntervalSeconds: z.number().int().positive().default(600),
      })
      .strict()
      .prefault({}),
    authorization: z
      .object({
        ...authzFields,
        allowUnverifiedEmail: z.boolean().default(false),
        /**
         * What `allowedUsers` entries are compared with. Only `sub` is stable (OIDC Core §5.7);
         * `email` counts only when verified. Default: [sub, email]; preset github: [sub, login].
         */
        matchUsersBy: z.array(z.enum(['sub', 'email', 'preferred_username', 'login'])).optional(),
        rules: z.array(pathRuleSchema.strict()).default([]),
      })
      .strict()
      .prefault({}),
    /**
     * Security headers added to upstream responses that do not set them themselves (reverse proxy
     * and middleware; off by default: the app may set its own).
     */
    securityHeaders: z
      .object({
        enabled: z.boolean().default(false),
        /** Strict-Transport-Security, sent only when publicUrl is https; '' = never. */
        hsts: z
          .string()
          .regex(
            /^(?:max-age=\d{1,10}(?:; ?includeSubDomains)?(?:; ?preload)?)?$/,
            'must be like "max-age=31536000; includeSubDomains", or "" for none',
          )
          .default('max-age=31536000'),
        /** X-Frame-Options; '' = not sent. */
        frameOptions: z.enum(['SAMEORIGIN', 'DENY', '']).default('SAMEORIGIN'),
        /** X-Content-Type-Options: nosniff. */
        noSniff: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    headers: z
      .object({
        passAccessToken: z.boolean().default(false),
        passAuthorizationHeader: z.boolean().default(false),
        /** X-Forwarded-Groups is cut (at a group boundary, flagged) beyond this many bytes. */
        maxGroupsHeaderBytes: z.number().int().min(256).max(65536).default(8192),
        /**
         * Upstream headers of your own, from the claims and tokens (identity/headerTemplates.ts:
         * `{"X-User-Email": "{{claims.email}}"}`). Parsed at load; a client's copy never passes.
         */
        templates: z.record(z.string(), z.string()).default({}),
        /** A templated value longer than this (bytes) is not sent (the header is left out). */
        maxTemplateValueBytes: z.number().int().min(256).max(65536).default(8192),
        /**
         * X-Gatehouse-Assertion: a JWT signed by Gatehouse saying who the user is, verifiable with
         * the keys at /oauth2/jwks (docs/assertion.md). Restart-only, like every key below.
         */
        assertion: z.boolean().default(false),
        /** PEM PKCS#8 private key or private JWK (P-256 → ES256, RSA → RS256, Ed25519 → EdDSA); unset: a generated ES256 key, shared through the store. */
        assertionKeyFile: z.string().min(1).optional(),
        /** Keys still published at /oauth2/jwks but never signed with (rotation with overlap); public or private. */
        assertionPreviousKeyFiles: z.array(z.string().min(1)).default([]),
        /** The identity claims an assertion carries besides iss, aud, iat, exp and jti. */
        assertionClaims: z
          .array(z.enum(ASSERTION_CLAIMS))
          .refine((c) => new Set(c).size === c.length, 'must not name a claim twice')
          .default(['sub', 'email', 'groups']),
        /** Seconds an assertion is valid; Gatehouse signs a new one when less than half is left. */
        assertionLifetimeSeconds: z.number().int().min(30).max(300).default(300),
      })
      .strict()
      .prefault({}),
    login: z
      .object({
        /** Completed logins per browser within `attemptWindowSeconds` after which another sign-in redirect is a loop: an error page stops it. */
        maxAttempts: z.number().int().min(1).default(5),
        attemptWindowSeconds: z.number().int().positive().default(120),
        /** Login flows (tabs) a browser may have pending at once; the oldest is dropped beyond it. */
        maxPendingFlows: z.number().int().min(1).max(50).default(10),
        /** Pending login flows kept at most in all (every browser, every replica); the oldest go first. */
        maxPendingFlowsTotal: z.number().int().min(100).default(50_000),
        /** Login starts per client (IPv6: per /64) per minute, shared across replicas; 0 = no limit. */
        rateLimitPerMinute: z.number().int().min(0).default(120),
        flowTtlSeconds: z.number().int().positive().default(600),
        /** Hosts besides publicUrl's that `rd` may point to. */
        allowedRedirectHosts: z.array(z.string()).default([]),
      })
      .strict()
      .prefault({}),
    /** Bearer tokens for API clients (oidc/bearerSettings.ts; docs/api-clients.md). */
    bearer: bearerSettingsSchema,
    skipAuth: z.array(z.string().startsWith('/', 'must start with /')).default([]),
    /**
     * On SIGTERM/SIGINT (or `close()`): how long requests in flight and refreshes under way may
     * take to finish before their connections are closed. Below Kubernetes' default 30 s grace.
     */
    shutdownTimeoutSeconds: z.number().min(0).max(600).default(25),
    logging: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /**
         * HOST:PORT of a listener of their own for Prometheus (`GET /metrics`), e.g.
         * `0.0.0.0:9464`. Unset: metrics are off. Never served on the public port.
         */
        listen: hostPort.optional(),
      })
      .strict()
      .prefault({}),
    /**
     * OpenTelemetry traces over OTLP/HTTP (docs/operations.md, "Tracing"). Off by default; on, it
     * needs the optional `@opentelemetry/*` packages installed next to Gatehouse. Restart-only.
     */
    tracing: z
      .object({
        enabled: z.boolean().default(false),
        /**
         * The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. Unset: the
         * standard variables `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`
         * (+ `/v1/traces`), else `http://localhost:4318/v1/traces`.
         */
        otlpEndpoint: httpUrl.optional(),
        /** `service.name` of every span. */
        serviceName: z.string().min(1).default('gatehouse'),
        /** Share of new traces recorded (0..1); a continued trace follows its parent's sampled flag. */
        sampleRatio: z.number().min(0).max(1).default(1),
        /**
         * A client's W3C `traceparent` becomes the parent of the request span (standard trace
         * continuation). It never changes a decision; false: every request starts a new trace.
         */
        continueClientTraces: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  // A typo such as `authorisation:` must be an error, never silently run without authorization.
  .strict();

/** The configuration as written, after zod (defaults filled in, `provider.preset` maybe `auto`). */
export type ConfigAsWritten = z.infer<typeof configSchema>;

/**
 * The configuration as loaded (loadConfig): the provider preset resolved and its defaults filled
 * in — claim names, `authorization.matchUsersBy`, and whether allowedEmailDomains also checks the
 * provider's hosted-domain claim.
 */
export type GatehouseConfig = Omit<ConfigAsWritten, 'provider' | 'authorization'> & {
  provider: ConfiguredProviderSettings;
  authorization: ConfigAsWritten['authorization'] & {
    /** Set from the preset (Google Workspace `hd`); see authz/policy.ts. */
    requireHostedDomain?: boolean;
  };
};
export type ConfigInput = z.input<typeof configSchema>;
export type PathRule = z.infer<typeof pathRuleSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;

/** Keys whose values may be written `env:NAME` or `file:/path`. */
export const SECRET_PATHS = [
  'provider.clientSecret',
  'session.secret',
  'session.redisUrl',
  'provider.registration.initialAccessToken',
] as const;
