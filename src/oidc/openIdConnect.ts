import * as client from 'openid-client';
import type {
  CallbackChecks,
  GrantResponse,
  IdentitySourceContext,
  ProviderConnection,
  Reread,
  SignedIn,
} from './connection.js';
import { ClaimSourceError, resolveDistributedClaims } from './distributedClaims.js';
import { OidcError } from './errors.js';
import { endpointDowngrades } from './insecureTransport.js';
import { ProviderKeys } from './jwks.js';
import type { OfflineAccessPlan } from './offlineAccess.js';
import { needsUserinfo } from './userinfoNeed.js';

/**
 * The OpenID Connect identity source (presets generic, google, cognito): discovery, then who
 * signed in is the ID token, its signature verified with jose against the provider's JWKS (which
 * follows a key rotation at once) while openid-client validates its claims (iss, aud, azp,
 * exp/iat, nonce); with userinfo and distributed claims when configured.
 */
export async function discoverOpenIdProvider(
  ctx: IdentitySourceContext,
  ext: OpenIdExtensions = {},
): Promise<ProviderConnection> {
  const p = ctx.settings;
  const metadata: Partial<client.ClientMetadata> = {
    client_secret: p.clientSecret,
    [client.clockTolerance]: p.clockToleranceSeconds,
  };
  const issuer = new URL(p.issuer);
  const execute: Array<(c: client.Configuration) => void> = [];
  if (issuer.protocol === 'http:') execute.push(client.allowInsecureRequests);
  let algorithm = 'RS256';
  // A discovery URL given by the preset is read as it is: openid-client then skips its "issuer
  // equals the URL" check, and the preset's acceptIssuer does the check that fits its provider.
  const discoveryAt = ext.discovery ? new URL(ext.discovery.url) : issuer;
  let conf = await client.discovery(
    discoveryAt,
    p.clientId,
    metadata,
    client.ClientSecretBasic(p.clientSecret),
    {
      execute,
      timeout: p.timeoutSeconds,
      // Every later call of this configuration uses it too (openid-client keeps it).
      [client.customFetch]: ctx.fetch,
    },
  );
  const server = conf.serverMetadata();
  const refused = ext.discovery?.acceptIssuer(server.issuer);
  if (refused) throw new Error(`the provider's discovery document is refused: ${refused}`);
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
    conf[client.customFetch] = ctx.fetch;
  }
  if (!server.jwks_uri) throw new Error('the provider metadata has no jwks_uri');
  // A re-read of discovery keeps the JWKS cache (and its rate limit) while jwks_uri is unchanged.
  const previousKeys = ctx.previous?.keys;
  const keys =
    previousKeys?.jwksUri === server.jwks_uri
      ? previousKeys
      : new ProviderKeys(server.jwks_uri, p.timeoutSeconds * 1000, Date.now, ctx.fetch);
  const offline = ctx.preset.offlineAccess({
    scopes: p.scopes,
    requestOfflineAccess: p.requestOfflineAccess,
    scopesSupported: server.scopes_supported,
  });
  if (!ctx.previous) {
    ctx.logger.info({ issuer: server.issuer, scopes: offline.scopes }, 'OIDC provider discovered');
  }
  return new OpenIdConnection(conf, offline, keys, algorithm, ctx, ext, ext.grants?.(conf, algorithm));
}

/** The code and refresh grants, when openid-client's own issuer check cannot express the provider's. */
export interface TokenGrants {
  authorizationCode(callbackUrl: URL, checks: CallbackChecks): Promise<GrantResponse>;
  refresh(refreshToken: string): Promise<GrantResponse>;
}

/**
 * Groups that are not in the token (Entra group overage), read by the preset's own means instead
 * of the token's `_claim_sources`. Resolves the claims with the groups claim filled in, or as
 * they are when nothing is missing; throws (any error) when the source fails — at login the
 * sign-in then fails with that error, at refresh the session keeps its identity.
 */
export interface GroupSource {
  resolve(
    claims: Record<string, unknown>,
    accessToken: string,
    phase: 'login' | 'refresh',
  ): Promise<Record<string, unknown>>;
}

/** What a preset changes in the OpenID Connect identity source (presets/entra.ts does). */
export interface OpenIdExtensions {
  /** Read discovery at `url` and check its issuer with `acceptIssuer` (a refusal reason, or undefined). */
  discovery?: { url: string; acceptIssuer(issuer: string): string | undefined };
  /** Replaces the distributed-claims resolution of the groups claim. */
  groupSource?: GroupSource;
  /** Replaces openid-client's code and refresh grants (for a per-tenant issuer check). */
  grants?: (conf: client.Configuration, algorithm: string) => TokenGrants;
}

class OpenIdConnection implements ProviderConnection {
  constructor(
    readonly configuration: client.Configuration,
    readonly offline: OfflineAccessPlan,
    readonly keys: ProviderKeys,
    private readonly algorithm: string,
    private readonly ctx: IdentitySourceContext,
    private readonly ext: OpenIdExtensions,
    private readonly grants: TokenGrants | undefined,
  ) {
    if (grants) this.refreshGrant = (refreshToken) => grants.refresh(refreshToken);
  }

  readonly refreshGrant?: (refreshToken: string) => Promise<GrantResponse>;

  authorizationParams(nonce: string): Record<string, string> {
    return { nonce };
  }

  /** ID tokens and distributed-claim answers: the provider's keys, the chosen algorithm, exp/nbf with the tolerance. */
  private verifySignature(jwt: string) {
    return this.keys.verify(jwt, {
      algorithms: [this.algorithm],
      clockToleranceSec: this.ctx.settings.clockToleranceSeconds,
    });
  }

  async exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<SignedIn> {
    const conf = this.configuration;
    const grants = this.grants;
    const res = await this.ctx.run(() =>
      grants
        ? grants.authorizationCode(callbackUrl, checks)
        : client.authorizationCodeGrant(conf, callbackUrl, {
            expectedState: checks.state,
            expectedNonce: checks.nonce,
            pkceCodeVerifier: checks.codeVerifier,
            idTokenExpected: true,
          }),
    );
    const idClaims = res.claims() as Record<string, unknown> | undefined;
    if (!idClaims || !res.id_token) throw new Error('the token response carried no ID token');
    await this.verifySignature(res.id_token);
    const claims = await this.enrichClaims(res.access_token, idClaims, 'login');
    return { tokens: res, claims, refreshTokenMissing: !res.refresh_token };
  }

  async reread(res: GrantResponse, previousClaims: Record<string, unknown> | undefined): Promise<Reread> {
    // A refreshed ID token (iss, aud and exp already checked by openid-client) naming another
    // subject is terminal before anything is kept: these tokens are not this session's user's.
    const idClaims = res.claims() as Record<string, unknown> | undefined;
    const previousSub = previousClaims?.sub;
    if (idClaims && typeof previousSub === 'string' && idClaims.sub !== previousSub) {
      throw new OidcError('subject_changed', {
        oauthError: 'subject_changed',
        description: 'the refreshed ID token names another subject',
      });
    }
    // A refreshed ID token whose signature does not verify is not kept (it would become an
    // id_token_hint); the tokens are kept with the identity the session already has.
    let kept: client.TokenEndpointResponse = res;
    try {
      if (idClaims && res.id_token) {
        try {
          await this.verifySignature(res.id_token);
        } catch (err) {
          kept = { ...res, id_token: undefined } as unknown as client.TokenEndpointResponse;
          throw err;
        }
      }
      return { tokens: kept, claims: await this.refreshedClaims(res, idClaims, previousClaims) };
    } catch (err) {
      return { tokens: kept, claims: undefined, unread: err };
    }
  }

  /** The (verified) refreshed ID token with userinfo; userinfo alone when no ID token came back. */
  private async refreshedClaims(
    res: client.TokenEndpointResponse,
    idClaims: Record<string, unknown> | undefined,
    previousClaims: Record<string, unknown> | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    if (idClaims) return this.enrichClaims(res.access_token, idClaims, 'refresh');
    // No refreshed ID token: userinfo is the only fresh source (unless turned off).
    if (this.ctx.settings.useUserinfo !== false && this.hasUserinfo() && previousClaims) {
      return this.enrichClaims(res.access_token, previousClaims, 'refresh', true);
    }
    return undefined;
  }

  private hasUserinfo(): boolean {
    return Boolean(this.configuration.serverMetadata().userinfo_endpoint);
  }

  lastsTheSession(): boolean {
    return false;
  }

  /**
   * The preset's `accessTokenClaims` the claims lack, from the access token when it is a JWT the
   * provider signed for this user and client (Keycloak's roles). An opaque or unverifiable access
   * token adds nothing (logged at debug): the identity then has what the ID token said.
   */
  private async withAccessTokenClaims(
    claims: Record<string, unknown>,
    accessToken: string,
  ): Promise<Record<string, unknown>> {
    const wanted = (this.ctx.preset.accessTokenClaims ?? []).filter((n) => claims[n] === undefined);
    if (wanted.length === 0 || accessToken.split('.').length !== 3) return claims;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await this.keys.verify(accessToken, {
        issuer: this.configuration.serverMetadata().issuer,
        clockToleranceSec: this.ctx.settings.clockToleranceSeconds,
      }));
    } catch (err) {
      this.ctx.logger.debug(
        { err: String(err) },
        'access token claims not read: not a JWT the provider signed',
      );
      return claims;
    }
    const azp = payload.azp ?? payload.client_id;
    if (payload.sub !== claims.sub || (azp !== undefined && azp !== this.ctx.settings.clientId))
      return claims;
    const out = { ...claims };
    for (const name of wanted) if (payload[name] !== undefined) out[name] = payload[name];
    return out;
  }

  /**
   * Userinfo (must agree on `sub`) and distributed group claims (Entra overage). A claim source
   * that is refused or fails (see distributedClaims.ts) is logged at warn with the reason: at
   * login the user signs in without those groups (group rules then deny: fail closed); at a
   * refresh the error propagates, so the session keeps the identity it has (as when userinfo
   * fails) instead of dropping groups over a network hiccup.
   */
  private async enrichClaims(
    accessToken: string,
    idClaims: Record<string, unknown>,
    phase: 'login' | 'refresh',
    forceUserinfo = false,
  ): Promise<Record<string, unknown>> {
    const p = this.ctx.settings;
    let claims = idClaims;
    if (forceUserinfo || needsUserinfo(p, idClaims, this.hasUserinfo())) {
      const sub = String(idClaims.sub);
      // openid-client rejects a userinfo response whose sub differs from the ID token's.
      const info = await this.ctx.run(() => client.fetchUserInfo(this.configuration, accessToken, sub));
      claims = { ...idClaims, ...info };
    }
    claims = await this.withAccessTokenClaims(claims, accessToken);
    // The preset's own source (Entra: Microsoft Graph): its errors are the caller's to handle.
    if (this.ext.groupSource) return this.ext.groupSource.resolve(claims, accessToken, phase);
    try {
      return await resolveDistributedClaims(claims, p.groupsClaim, accessToken, {
        issuer: p.issuer,
        allowedHosts: p.claimSourceHosts,
        timeoutMs: p.timeoutSeconds * 1000,
        run: this.ctx.run,
        fetch: this.ctx.fetch,
        verifyJwt: async (jwt) => (await this.verifySignature(jwt)).payload,
      });
    } catch (err) {
      if (!(err instanceof ClaimSourceError)) throw err;
      this.ctx.logger.warn(
        { claim: p.groupsClaim, source: err.source, reason: err.message, phase },
        phase === 'login'
          ? `distributed claim source refused: ${err.message}; signing in without ${p.groupsClaim}`
          : `distributed claim source refused: ${err.message}; keeping the session's identity`,
      );
      if (phase === 'refresh') throw err;
      return claims;
    }
  }
}
