import * as client from 'openid-client';
import type { GatehouseConfig } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import { describeCause, GatehouseError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { Semaphore } from '../util/semaphore.js';
import { ClaimSourceError, resolveDistributedClaims } from './distributedClaims.js';
import { GithubIdentity, githubEndpoints, githubTokenFetch } from './github.js';
import { IdTokenSignatureVerifier } from './idTokenSignature.js';
import { endpointDowngrades, usesInsecureIssuer } from './insecureTransport.js';
import { logoutTarget, type OfflineAccessPlan, planOfflineAccess } from './presets.js';
import { accessExpiry, type TokenResult } from './tokenResult.js';

export interface AuthorizationRequest {
  state: string;
  nonce: string;
  codeVerifier: string;
  loginHint?: string;
}

/** Provider-side identity of the current token set, for upstream identity. */
export interface CallbackChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** Raised by token-endpoint calls: `kind` drives the refresh result class. */
export class TokenEndpointError extends Error {
  constructor(
    readonly kind: 'terminal' | 'transient',
    readonly oauthError: string | undefined,
    readonly description: string | undefined,
    readonly status: number | undefined,
    cause: unknown,
  ) {
    super(`${oauthError ?? 'error'}${description ? `: ${description}` : ''}`, { cause });
    this.name = 'TokenEndpointError';
  }
}

/**
 * Classifies token-endpoint failures. Only `invalid_grant` means the grant itself is dead;
 * network errors, timeouts, 5xx and 429 are the IdP having a bad moment and must never log
 * anyone out. Anything else (misconfiguration, malformed responses) is treated as transient too:
 * a provider fault is answered with an error page, not by destroying sessions.
 */
export function classifyTokenError(err: unknown): TokenEndpointError {
  if (err instanceof TokenEndpointError) return err;
  if (err instanceof client.ResponseBodyError) {
    const terminal = err.error === 'invalid_grant';
    return new TokenEndpointError(
      terminal ? 'terminal' : 'transient',
      err.error,
      err.error_description,
      err.status,
      err,
    );
  }
  const status = httpStatusOf(err);
  if (status !== undefined) {
    return new TokenEndpointError(
      'transient',
      `http_${status}`,
      `the identity provider answered HTTP ${status}`,
      status,
      err,
    );
  }
  if (isUnreachable(err)) {
    return new TokenEndpointError('transient', 'unreachable', describeCause(err), undefined, err);
  }
  return new TokenEndpointError('transient', undefined, describeCause(err), undefined, err);
}

/**
 * The HTTP status of a non-OAuth error answer (e.g. a 503 HTML page): openid-client reports those
 * as a ClientError whose cause is the Response.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof client.ResponseBodyError) return err.status;
  const cause = (err as { cause?: unknown })?.cause;
  if (err instanceof client.ClientError && cause instanceof Response) return cause.status;
  return undefined;
}

/** Network failure or timeout: the IdP did not answer at all. */
export function isUnreachable(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    (err instanceof TypeError && /fetch failed/i.test(err.message))
  );
}

export interface ProviderDeps {
  clock: Clock;
  logger: Logger;
}

/**
 * Everything that talks to the OpenID provider, on top of openid-client: discovery (retried with
 * backoff until it works), authorization URLs, code exchange, refresh, userinfo, logout URLs.
 * All IdP calls go through one semaphore (bounded concurrency) and carry a timeout.
 */
export class OidcProvider {
  private configuration: client.Configuration | undefined;
  private signatures: IdTokenSignatureVerifier | undefined;
  /** Set with `preset: github`: identity comes from GitHub's REST API, not an ID token. */
  private github: GithubIdentity | undefined;
  private discoveryError = 'discovery has not completed yet';
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly limiter: Semaphore;
  private offline!: OfflineAccessPlan;
  private warnedNoRefresh = false;
  readonly redirectUri: string;

  constructor(
    private readonly cfg: GatehouseConfig,
    private readonly deps: ProviderDeps,
  ) {
    this.limiter = new Semaphore(cfg.provider.maxConcurrentRequests);
    this.redirectUri = new URL('/oauth2/callback', cfg.publicUrl).href;
  }

  get ready(): boolean {
    return this.configuration !== undefined;
  }

  get notReadyReason(): string {
    return this.discoveryError;
  }

  get offlineAccess(): OfflineAccessPlan {
    return this.offline;
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
          await this.discover();
          resolve();
        } catch (err) {
          attempt++;
          const delay = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
          this.discoveryError = `OIDC discovery at ${this.cfg.provider.issuer} failed: ${describeCause(err)}`;
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
  }

  private async discover(): Promise<void> {
    if (this.cfg.provider.preset === 'github') return this.configureGithub();
    const p = this.cfg.provider;
    const metadata: Partial<client.ClientMetadata> = {
      client_secret: p.clientSecret,
      [client.clockTolerance]: p.clockToleranceSeconds,
    };
    const issuer = new URL(p.issuer);
    // ID token signatures are verified with jose (IdTokenSignatureVerifier), which follows a key
    // rotation at once; openid-client validates the claims (iss, aud, azp, exp/iat, nonce).
    const execute: Array<(c: client.Configuration) => void> = [];
    if (issuer.protocol === 'http:') execute.push(client.allowInsecureRequests);
    let algorithm = 'RS256';
    let conf = await client.discovery(
      issuer,
      p.clientId,
      metadata,
      client.ClientSecretBasic(p.clientSecret),
      {
        execute,
        timeout: p.timeoutSeconds,
      },
    );
    const server = conf.serverMetadata();
    // No silent downgrade: an https issuer whose discovery names http endpoints (jwks_uri is
    // fetched by jose, which has no https guard of its own) is refused, and discovery retried.
    const downgrades = endpointDowngrades(p.issuer, server as Record<string, unknown>, p.allowInsecureIssuer);
    if (downgrades.length) {
      throw new Error(`the provider's discovery document is refused: ${downgrades.join('; ')}`);
    }
    if (p.idTokenSigningAlgs.length) {
      // openid-client checks one expected alg; from the allow-list, pick the first the IdP offers.
      const offered = server.id_token_signing_alg_values_supported ?? ['RS256'];
      const pick = p.idTokenSigningAlgs.find((a) => offered.includes(a));
      if (!pick)
        throw new Error(
          `provider supports none of provider.idTokenSigningAlgs (${p.idTokenSigningAlgs.join(', ')})`,
        );
      algorithm = pick;
      conf = new client.Configuration(
        server,
        p.clientId,
        { ...metadata, id_token_signed_response_alg: pick },
        client.ClientSecretBasic(p.clientSecret),
      );
      for (const fn of execute) fn(conf);
      conf.timeout = p.timeoutSeconds;
    }
    if (!server.jwks_uri) throw new Error('the provider metadata has no jwks_uri');
    this.signatures = new IdTokenSignatureVerifier(
      server.jwks_uri,
      [algorithm],
      p.clockToleranceSeconds,
      p.timeoutSeconds * 1000,
    );
    this.offline = planOfflineAccess(p.preset, p.scopes, p.requestOfflineAccess, server.scopes_supported);
    this.configuration = conf;
    this.discoveryError = '';
    this.deps.logger.info({ issuer: server.issuer, scopes: this.offline.scopes }, 'OIDC provider discovered');
  }

  /** GitHub has no discovery document: its endpoints are known (github.com or GHES at `issuer`). */
  private configureGithub(): void {
    const p = this.cfg.provider;
    const ep = githubEndpoints(p.issuer);
    const conf = new client.Configuration(
      { issuer: p.issuer, authorization_endpoint: ep.authorization, token_endpoint: ep.token },
      p.clientId,
      { client_secret: p.clientSecret },
      client.ClientSecretPost(p.clientSecret),
    );
    if (new URL(p.issuer).protocol === 'http:') client.allowInsecureRequests(conf);
    conf.timeout = p.timeoutSeconds;
    conf[client.customFetch] = githubTokenFetch;
    this.github = new GithubIdentity(ep.api, new URL(p.issuer).host, {
      timeoutMs: p.timeoutSeconds * 1000,
      run: (fn) => this.limiter.run(fn),
      logger: this.deps.logger,
    });
    this.offline = planOfflineAccess(p.preset, p.scopes, p.requestOfflineAccess, undefined);
    this.configuration = conf;
    this.discoveryError = '';
    this.deps.logger.info(
      { issuer: p.issuer, api: ep.api, scopes: this.offline.scopes },
      'GitHub OAuth configured',
    );
  }

  private conf(): client.Configuration {
    if (!this.configuration) {
      throw new GatehouseError(
        'provider_unavailable',
        503,
        'The sign-in service is not reachable yet. Please try again in a moment.',
        { message: this.discoveryError },
      );
    }
    return this.configuration;
  }

  async authorizationUrl(req: AuthorizationRequest): Promise<string> {
    const conf = this.conf();
    const params: Record<string, string> = {
      redirect_uri: this.redirectUri,
      scope: this.offline.scopes.join(' '),
      state: req.state,
      // GitHub has no ID token to carry a nonce back; state and PKCE protect the flow.
      ...(this.github ? {} : { nonce: req.nonce }),
      code_challenge: await client.calculatePKCECodeChallenge(req.codeVerifier),
      code_challenge_method: 'S256',
      ...this.offline.extraParams,
      ...this.cfg.provider.authorizationParams,
    };
    if (req.loginHint) params.login_hint = req.loginHint;
    return client.buildAuthorizationUrl(conf, params).href;
  }

  /** Exchanges the code; validates the ID token (signature, iss, aud, azp, exp/iat, nonce) via openid-client. */
  async exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<TokenResult> {
    const conf = this.conf();
    const now = this.deps.clock.now();
    if (this.github) {
      const res = await this.limiter.run(() =>
        client.authorizationCodeGrant(conf, callbackUrl, {
          expectedState: checks.state,
          pkceCodeVerifier: checks.codeVerifier,
          idTokenExpected: false,
        }),
      );
      const claims = await this.github.claims(res.access_token);
      if (res.expires_in !== undefined && !res.refresh_token) this.warnNoRefreshToken();
      return this.toResult(now, res, claims, undefined);
    }
    const res = await this.limiter.run(() =>
      client.authorizationCodeGrant(conf, callbackUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: true,
      }),
    );
    const idClaims = res.claims() as Record<string, unknown> | undefined;
    if (!idClaims || !res.id_token) throw new Error('the token response carried no ID token');
    await this.signatures!.verify(res.id_token);
    const claims = await this.enrichClaims(conf, res.access_token, idClaims, 'login');
    if (!res.refresh_token) this.warnNoRefreshToken();
    return this.toResult(now, res, claims, undefined);
  }

  private warnNoRefreshToken(): void {
    if (this.warnedNoRefresh) return;
    this.warnedNoRefresh = true;
    this.deps.logger.warn(
      { provider: this.cfg.provider.issuer },
      `the provider issued no refresh token: sessions will end when the access token expires — ${this.offline.missingRefreshHint}`,
    );
  }

  /** One refresh grant. Errors are classified (terminal vs transient) for the coordinator. */
  async refresh(
    refreshToken: string,
    previousClaims: Record<string, unknown> | undefined,
  ): Promise<TokenResult> {
    const conf = this.conf();
    const now = this.deps.clock.now();
    let res: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      res = await this.limiter.run(() => client.refreshTokenGrant(conf, refreshToken));
    } catch (err) {
      throw classifyTokenError(err);
    }
    // A refreshed ID token (iss, aud and exp already checked by openid-client) naming another
    // subject is terminal before anything is kept: these tokens are not this session's user's.
    const idClaims = this.github ? undefined : (res.claims() as Record<string, unknown> | undefined);
    const previousSub = previousClaims?.sub;
    if (idClaims && typeof previousSub === 'string' && idClaims.sub !== previousSub) {
      throw new TokenEndpointError(
        'terminal',
        'subject_changed',
        'the refreshed ID token names another subject',
        undefined,
        undefined,
      );
    }
    // The grant succeeded: with rotation the old refresh token is now spent, so nothing after
    // this point may throw the new tokens away. If the identity cannot be re-read (userinfo or
    // the GitHub API failing, a refreshed ID token whose signature does not verify), the tokens
    // are kept with the identity the session already has, and re-read at the next refresh; an
    // ID token whose signature did not verify is not kept (it would become an id_token_hint).
    let kept: client.TokenEndpointResponse = res;
    let claims: Record<string, unknown> | undefined;
    try {
      if (idClaims && res.id_token) {
        try {
          await this.signatures!.verify(res.id_token);
        } catch (err) {
          kept = { ...res, id_token: undefined } as unknown as client.TokenEndpointResponse;
          throw err;
        }
      }
      claims = await this.refreshedClaims(conf, res, idClaims, previousClaims);
    } catch (err) {
      this.deps.logger.warn(
        { err: describeCause(err) },
        'OIDC token renewed, but the identity could not be re-read; the previous identity is kept',
      );
      claims = undefined;
    }
    return this.toResult(now, kept, claims, refreshToken);
  }

  /** The identity after a refresh: GitHub's API, else the (verified) ID token, with userinfo. */
  private async refreshedClaims(
    conf: client.Configuration,
    res: client.TokenEndpointResponse,
    idClaims: Record<string, unknown> | undefined,
    previousClaims: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    if (this.github) return this.github.claims(res.access_token);
    if (idClaims) return this.enrichClaims(conf, res.access_token, idClaims, 'refresh');
    if (this.cfg.provider.useUserinfo && previousClaims) {
      return this.enrichClaims(conf, res.access_token, previousClaims, 'refresh');
    }
    return undefined;
  }

  private toResult(
    now: number,
    res: client.TokenEndpointResponse,
    claims: Record<string, unknown> | undefined,
    previousRefresh: string | undefined,
  ): TokenResult {
    const exp = claims && typeof claims.exp === 'number' ? claims.exp : undefined;
    // A GitHub OAuth app token never expires (no expires_in): the session's own lifetime rules.
    const nonExpiring = this.github !== undefined && res.expires_in === undefined;
    const maxAgeMs = this.cfg.session.maxAgeSeconds * 1000;
    const e = nonExpiring
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
    return {
      tokens,
      claims,
      accessExpiresAt: e.at,
      accessLifetimeMs: e.lifetimeMs,
      rotated: res.refresh_token !== undefined && res.refresh_token !== previousRefresh,
    };
  }

  /**
   * Userinfo (must agree on `sub`) and distributed group claims (Entra overage). A claim source
   * that is refused or fails (see distributedClaims.ts) is logged at warn with the reason: at
   * login the user signs in without those groups (group rules then deny: fail closed); at a
   * refresh the error propagates, so the session keeps the identity it has (as when userinfo
   * fails) instead of dropping groups over a network hiccup.
   */
  private async enrichClaims(
    conf: client.Configuration,
    accessToken: string,
    idClaims: Record<string, unknown>,
    phase: 'login' | 'refresh',
  ): Promise<Record<string, unknown>> {
    let claims = idClaims;
    if (this.cfg.provider.useUserinfo) {
      const sub = String(idClaims.sub);
      // openid-client rejects a userinfo response whose sub differs from the ID token's.
      const info = await this.limiter.run(() => client.fetchUserInfo(conf, accessToken, sub));
      claims = { ...idClaims, ...info };
    }
    const p = this.cfg.provider;
    try {
      return await resolveDistributedClaims(claims, p.groupsClaim, accessToken, {
        issuer: p.issuer,
        allowedHosts: p.claimSourceHosts,
        timeoutMs: p.timeoutSeconds * 1000,
        run: (fn) => this.limiter.run(fn),
        verifyJwt: (jwt) => this.signatures!.verifyJwt(jwt),
      });
    } catch (err) {
      if (!(err instanceof ClaimSourceError)) throw err;
      this.deps.logger.warn(
        { claim: p.groupsClaim, source: err.source, reason: err.message, phase },
        phase === 'login'
          ? `distributed claim source refused: ${err.message}; signing in without ${p.groupsClaim}`
          : `distributed claim source refused: ${err.message}; keeping the session's identity`,
      );
      if (phase === 'refresh') throw err;
      return claims;
    }
  }

  /** Where logout sends the browser at the provider (see `logoutTarget`), or undefined. */
  endSessionUrl(idTokenHint: string | undefined, postLogoutRedirectUri: string): string | undefined {
    if (!this.configuration || !this.cfg.provider.endSession) return undefined;
    const meta = this.configuration.serverMetadata();
    const p = this.cfg.provider;
    const target = logoutTarget({
      preset: p.preset,
      logoutUrl: p.logoutUrl,
      clientId: p.clientId,
      endSessionEndpoint: meta.end_session_endpoint,
      authorizationEndpoint: meta.authorization_endpoint,
      idTokenHint,
      postLogoutRedirectUri,
    });
    if (target?.kind !== 'end_session') return target?.url;
    const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri };
    if (idTokenHint) params.id_token_hint = idTokenHint;
    else params.client_id = p.clientId;
    return client.buildEndSessionUrl(this.configuration, params).href;
  }

  /** Issuer and JWKS access for back-channel logout token validation. */
  get serverMetadata(): client.ServerMetadata | undefined {
    return this.configuration?.serverMetadata();
  }
}
