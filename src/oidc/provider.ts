import * as client from 'openid-client';
import type { Clock } from '../util/clock.js';
import { describeCause, GatehouseError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Semaphore } from '../util/semaphore.js';
import type { CallbackChecks, GrantResponse, ProviderConnection } from './connection.js';
import { logoutHintFrom, MAX_LOGOUT_URL_BYTES } from './endSessionParams.js';
import { classifyOidcError, OidcError } from './errors.js';
import { usesInsecureIssuer } from './insecureTransport.js';
import { introspect, introspectionConfiguration } from './introspectionCall.js';
import type { JwtChecks, VerifiedJwt } from './jwks.js';
import { logoutUrlFromTemplate } from './logoutTarget.js';
import { type LogoutTokenClaims, verifyLogoutToken } from './logoutToken.js';
import { type OfflineAccessPlan, refreshReadiness } from './offlineAccess.js';
import { presetFor } from './presets/index.js';
import type { ProviderPreset } from './presets/preset.js';
import { createProviderFetch, type ProviderFetch, untrustedCertificateHint } from './providerFetch.js';
import type { OidcProviderConfig } from './settings.js';
import { accessExpiry, statedSeconds, type TokenResult } from './tokenResult.js';

export interface AuthorizationRequest {
  state: string;
  nonce: string;
  codeVerifier: string;
  loginHint?: string;
  /** `prompt=none`: a silent re-authorization (engine/silentUpgrade.ts); wins over a configured prompt. */
  silent?: boolean;
}

export interface ProviderDeps {
  clock: Clock;
  logger: Logger;
  /** The transport of every call to the provider; default `createProviderFetch(cfg.provider)`. */
  fetch?: ProviderFetch;
  /** The redirect URI; default `<publicUrl>/oauth2/callback` (doctor --login: its loopback listener). */
  redirectUri?: string;
}

/**
 * Everything that talks to the provider, on top of openid-client: reaching it (retried with
 * backoff until it works), authorization URLs, code exchange, refresh, logout URLs, and the
 * validation of tokens it signed. What differs between providers comes from the preset
 * (presets/*.ts) and its identity source (openIdConnect.ts, githubOAuth.ts). All IdP calls go
 * through one semaphore (bounded concurrency) and carry a timeout.
 */
export class OidcProvider {
  private connection: ProviderConnection | undefined;
  private discoveryError = 'discovery has not completed yet';
  private retryTimer: NodeJS.Timeout | undefined;
  private rediscoveryTimer: NodeJS.Timeout | undefined;
  private rediscovering: Promise<boolean> | undefined;
  private stopped = false;
  private readonly limiter: Semaphore;
  private readonly preset: ProviderPreset;
  private warnedNoRefresh = false;
  readonly redirectUri: string;
  /** How every call to the provider is made (providerFetch.ts: `provider.caFile`). */
  readonly fetch: ProviderFetch;

  constructor(
    private readonly cfg: OidcProviderConfig,
    private readonly deps: ProviderDeps,
  ) {
    this.limiter = new Semaphore(cfg.provider.maxConcurrentRequests);
    this.preset = presetFor(cfg.provider);
    this.redirectUri = deps.redirectUri ?? new URL('/oauth2/callback', cfg.publicUrl).href;
    this.fetch = deps.fetch ?? createProviderFetch(cfg.provider);
  }

  /** Our client id, as configured or registered at start (the ID-token-as-bearer check compares with it). */
  get clientId(): string {
    return this.cfg.provider.clientId;
  }

  get ready(): boolean {
    return this.connection !== undefined;
  }

  get notReadyReason(): string {
    return this.discoveryError;
  }

  /** Starts discovery; resolves on the first success, retries with capped backoff forever. */
  start(): Promise<void> {
    const p = this.cfg.provider;
    if (usesInsecureIssuer(p.issuer, p.allowInsecureIssuer)) {
      this.deps.logger.warn(
        { issuer: p.issuer },
        'provider.allowInsecureIssuer: the issuer is plain http off loopback — the client secret, tokens and signing keys cross the network in clear; use https',
      );
    }
    return new Promise((resolve) => {
      let attempt = 0;
      const tryOnce = async () => {
        if (this.stopped) return resolve();
        try {
          this.connection = await this.preset.identitySource(this.sourceContext(undefined));
          this.discoveryError = '';
          this.deps.logger.info(
            { preset: this.preset.name, scopes: this.connection.offline.scopes },
            `refresh tokens (preset ${this.preset.name}): ${refreshReadiness(this.connection.offline)}`,
          );
          this.scheduleRediscovery();
          resolve();
        } catch (err) {
          attempt++;
          const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
          this.discoveryError = `OIDC discovery at ${p.issuer} failed: ${describeCause(err)}${untrustedCertificateHint(err)}`;
          this.deps.logger.warn({ attempt, retryInMs: delay }, this.discoveryError);
          this.retryTimer = setTimeout(tryOnce, delay);
          this.retryTimer.unref();
        }
      };
      void tryOnce();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.rediscoveryTimer) clearInterval(this.rediscoveryTimer);
  }

  private sourceContext(previous: ProviderConnection | undefined) {
    return {
      settings: this.cfg.provider,
      preset: this.preset,
      logger: this.deps.logger,
      run: <T>(fn: () => Promise<T>) => this.limiter.run(fn),
      fetch: this.fetch,
      previous,
    };
  }

  /** One timer, unref'd (it never holds the process), from the first successful discovery until stop(). */
  private scheduleRediscovery(): void {
    const seconds = this.cfg.provider.discoveryRefreshSeconds;
    if (seconds === 0 || this.stopped || this.rediscoveryTimer) return;
    this.rediscoveryTimer = setInterval(() => void this.rediscover(), seconds * 1000);
    this.rediscoveryTimer.unref();
  }

  /**
   * Re-reads discovery in the background (`provider.discoveryRefreshSeconds`); requests go on
   * with the connection in use meanwhile. A success swaps it (a changed token endpoint or
   * jwks_uri is used from then on; an unchanged jwks_uri keeps its key cache); a failure keeps
   * it, logs a warning and is retried at the next tick. Never throws; calls made while one runs
   * share it. Resolves true when the connection was replaced.
   */
  rediscover(): Promise<boolean> {
    this.rediscovering ??= this.rereadDiscovery().finally(() => {
      this.rediscovering = undefined;
    });
    return this.rediscovering;
  }

  private async rereadDiscovery(): Promise<boolean> {
    const previous = this.connection;
    if (!previous || this.stopped) return false;
    let next: ProviderConnection;
    try {
      next = await this.preset.identitySource(this.sourceContext(previous));
    } catch (err) {
      this.deps.logger.warn(
        { issuer: this.cfg.provider.issuer, retryInSeconds: this.cfg.provider.discoveryRefreshSeconds },
        `re-reading OIDC discovery failed: ${describeCause(err)}${untrustedCertificateHint(err)}; keeping the provider metadata in use`,
      );
      return false;
    }
    if (this.stopped) return false;
    const changed = changedMembers(
      previous.configuration.serverMetadata() as Record<string, unknown>,
      next.configuration.serverMetadata() as Record<string, unknown>,
    );
    this.connection = next;
    if (changed.length) {
      this.deps.logger.info(
        { issuer: this.cfg.provider.issuer, changed },
        'OIDC discovery changed; now in use',
      );
    } else {
      this.deps.logger.debug({ issuer: this.cfg.provider.issuer }, 'OIDC discovery re-read: unchanged');
    }
    return true;
  }

  private connected(): ProviderConnection {
    if (!this.connection) {
      throw new GatehouseError(
        'provider_unavailable',
        503,
        'The sign-in service is not reachable yet. Please try again in a moment.',
        { message: this.discoveryError },
      );
    }
    return this.connection;
  }

  /**
   * Does the offline-access plan in use expect a refresh token (it asks for `offline_access` or
   * a parameter such as Google's `access_type=offline`, or the provider issues one unasked)?
   * False before discovery.
   */
  get expectsRefreshToken(): boolean {
    const plan = this.connection?.offline;
    if (!plan) return false;
    return (
      plan.scopes.includes('offline_access') ||
      Object.keys(plan.extraParams).length > 0 ||
      plan.refreshTokenUnasked === true
    );
  }

  async authorizationUrl(req: AuthorizationRequest): Promise<string> {
    const c = this.connected();
    const params: Record<string, string> = {
      redirect_uri: this.redirectUri,
      scope: c.offline.scopes.join(' '),
      state: req.state,
      ...c.authorizationParams(req.nonce),
      code_challenge: await client.calculatePKCECodeChallenge(req.codeVerifier),
      code_challenge_method: 'S256',
      ...c.offline.extraParams,
      ...this.cfg.provider.authorizationParams,
    };
    if (req.loginHint) params.login_hint = req.loginHint;
    if (req.silent) params.prompt = 'none';
    return client.buildAuthorizationUrl(c.configuration, params).href;
  }

  /**
   * Exchanges the code and reads who signed in (an ID token validated for signature, iss, aud,
   * azp, exp/iat and nonce, or the identity source's API). Failures are thrown as they came;
   * `classifyOidcError` codes them.
   */
  async exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<TokenResult> {
    const c = this.connected();
    const now = this.deps.clock.now();
    const signedIn = await c.exchangeCode(callbackUrl, checks);
    if (signedIn.refreshTokenMissing) this.warnNoRefreshToken(c.offline);
    const result = this.toResult(c, now, signedIn.tokens, signedIn.claims, undefined);
    result.scopes ??= [...c.offline.scopes];
    return result;
  }

  private warnNoRefreshToken(offline: OfflineAccessPlan): void {
    if (this.warnedNoRefresh) return;
    this.warnedNoRefresh = true;
    this.deps.logger.warn(
      { provider: this.cfg.provider.issuer },
      `the provider issued no refresh token: sessions will end when the access token expires — ${offline.missingRefreshHint}`,
    );
  }

  /** One refresh grant. Failures are OidcErrors whose `kind` (terminal or transient) the coordinator acts on. */
  async refresh(
    refreshToken: string,
    previousClaims: Record<string, unknown> | undefined,
  ): Promise<TokenResult> {
    const c = this.connected();
    const now = this.deps.clock.now();
    let res: GrantResponse;
    try {
      res = await this.limiter.run(() =>
        c.refreshGrant
          ? c.refreshGrant(refreshToken)
          : client.refreshTokenGrant(c.configuration, refreshToken),
      );
    } catch (err) {
      throw classifyOidcError(err);
    }
    // The grant succeeded: with rotation the old refresh token is now spent, so nothing after
    // this point may throw the new tokens away. If the identity cannot be re-read (userinfo or
    // the GitHub API failing, a refreshed ID token whose signature does not verify), the tokens
    // are kept with the identity the session already has, and re-read at the next refresh.
    const reread = await c.reread(res, previousClaims);
    if (reread.unread !== undefined) {
      this.deps.logger.warn(
        { err: describeCause(reread.unread) },
        'OIDC token renewed, but the identity could not be re-read; the previous identity is kept',
      );
    }
    return this.toResult(c, now, reread.tokens, reread.claims, refreshToken);
  }

  private toResult(
    c: ProviderConnection,
    now: number,
    res: client.TokenEndpointResponse,
    claims: Record<string, unknown> | undefined,
    previousRefresh: string | undefined,
  ): TokenResult {
    const exp = claims && typeof claims.exp === 'number' ? claims.exp : undefined;
    const maxAgeMs = this.cfg.session.maxAgeSeconds * 1000;
    const e = c.lastsTheSession(res)
      ? { at: now + maxAgeMs, lifetimeMs: maxAgeMs }
      : accessExpiry(
          now,
          res.expires_in,
          res.access_token,
          exp,
          this.cfg.refresh.defaultTokenLifetimeSeconds,
        );
    const refreshToken = res.refresh_token ?? previousRefresh;
    const tokens: TokenResult['tokens'] = { accessToken: res.access_token };
    if (refreshToken) tokens.refreshToken = refreshToken;
    if (res.id_token) tokens.idToken = res.id_token;
    const stated: NonNullable<TokenResult['stated']> = {};
    const expiresIn = statedSeconds(res.expires_in);
    const refreshExpiresIn = statedSeconds(res.refresh_expires_in);
    if (expiresIn !== undefined) stated.expiresIn = expiresIn;
    if (refreshExpiresIn !== undefined) stated.refreshExpiresIn = refreshExpiresIn;
    const result: TokenResult = {
      tokens,
      claims,
      accessExpiresAt: e.at,
      accessLifetimeMs: e.lifetimeMs,
      rotated: res.refresh_token !== undefined && res.refresh_token !== previousRefresh,
      stated,
    };
    if (typeof res.scope === 'string') result.scopes = res.scope.split(' ').filter(Boolean);
    return result;
  }

  /**
   * Where logout sends the browser at the provider, or undefined for "nowhere: show our
   * signed-out page". An explicit `provider.logoutUrl` template wins; then the provider's
   * end_session_endpoint (OIDC RP-Initiated Logout, with `id_token_hint`); then the preset's own
   * target (Cognito's hosted UI).
   */
  endSessionUrl(idTokenHint: string | undefined, postLogoutRedirectUri: string): string | undefined {
    const p = this.cfg.provider;
    if (!this.connection || !p.endSession) return undefined;
    if (p.logoutUrl) {
      return logoutUrlFromTemplate(p.logoutUrl, { clientId: p.clientId, postLogoutRedirectUri, idTokenHint });
    }
    const conf = this.connection.configuration;
    const meta = conf.serverMetadata();
    if (meta.end_session_endpoint) {
      const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri };
      if (idTokenHint) {
        const withHint = client.buildEndSessionUrl(conf, { ...params, id_token_hint: idTokenHint }).href;
        if (Buffer.byteLength(withHint) <= MAX_LOGOUT_URL_BYTES) return withHint;
        // Too long for request-line limits: client_id + logout_hint (RP-Initiated Logout §2).
        const hint = logoutHintFrom(idTokenHint);
        if (hint) params.logout_hint = hint;
      }
      params.client_id = p.clientId;
      return client.buildEndSessionUrl(conf, params).href;
    }
    return this.preset.logoutTarget({
      clientId: p.clientId,
      authorizationEndpoint: meta.authorization_endpoint,
      postLogoutRedirectUri,
    });
  }

  /** Keys, issuer and audience for a token the provider signed; throws an OidcError when there are none yet or none at all. */
  private signedTokenContext() {
    if (!this.connection) throw new OidcError('not_ready', { description: this.discoveryError });
    const keys = this.connection.keys;
    if (!keys) throw new OidcError('no_signing_keys');
    return { keys, issuer: this.connection.configuration.serverMetadata().issuer };
  }

  /**
   * Validates a back-channel logout token (logoutToken.ts) against the provider's one JWKS
   * cache. Throws an OidcError: `not_ready`, `no_signing_keys`, `token_unverified` or
   * `token_invalid`.
   */
  async verifyLogoutToken(token: string): Promise<LogoutTokenClaims> {
    const { keys, issuer } = this.signedTokenContext();
    return verifyLogoutToken(token, keys, {
      issuer,
      clientId: this.cfg.provider.clientId,
      clockToleranceSec: this.cfg.provider.clockToleranceSeconds,
      now: this.deps.clock.now(),
    });
  }

  /**
   * Any JWT the provider signed, against the same JWKS cache (the seam for a bearer-token
   * credential loader): the signature and `checks`, with the provider's issuer unless `checks`
   * names another and the gateway clock unless it gives a time. Throws an OidcError (`not_ready`,
   * `no_signing_keys`, or `token_unverified` with jose's error as its cause).
   */
  async verifySignedJwt(jwt: string, checks: JwtChecks): Promise<VerifiedJwt> {
    const { keys, issuer } = this.signedTokenContext();
    try {
      return await keys.verify(jwt, { issuer, now: this.deps.clock.now(), ...checks });
    } catch (err) {
      throw new OidcError('token_unverified', { description: describeCause(err) }, err);
    }
  }

  /** The issuer as discovered (what `iss` of its tokens says), or undefined before discovery. */
  get discoveredIssuer(): string | undefined {
    return this.connection?.configuration.serverMetadata().issuer;
  }

  /**
   * RFC 7662 introspection of a bearer token (`endpoint` overrides discovery's). Runs outside the
   * provider's semaphore: the caller (TokenIntrospector) has a budget of its own, so a flood of
   * opaque tokens cannot take the slots logins and refreshes need. Throws as the call failed.
   */
  introspectToken(token: string, endpoint: string | undefined): Promise<Record<string, unknown>> {
    const c = this.connected();
    return introspect(introspectionConfiguration(c.configuration, this.cfg.provider, endpoint), token);
  }
}

/** The metadata members whose value differs between two discovery documents (for the log). */
function changedMembers(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}
