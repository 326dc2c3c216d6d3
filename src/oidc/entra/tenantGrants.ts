import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import type * as client from 'openid-client';
import { GatehouseError } from '../../util/errors.js';
import type { CallbackChecks, GrantResponse } from '../connection.js';
import { OidcError } from '../errors.js';
import type { TokenGrants } from '../openIdConnect.js';
import type { ProviderFetch } from '../providerFetch.js';
import { tenantIssuer } from './tenancy.js';

export interface TenantGrantSettings {
  /** The discovered issuer template (`https://login.microsoftonline.com/{tenantid}/v2.0`). */
  template: string;
  /** `provider.entra.tenants`, lower-cased. */
  tenants: readonly string[];
  clientId: string;
  clientSecret: string;
  algorithm: string;
  clockToleranceSeconds: number;
  timeoutSeconds: number;
  /** The provider's transport (providerFetch.ts: trusts `provider.caFile`). */
  fetch: ProviderFetch;
}

/**
 * The code and refresh grants for a multi-tenant Entra issuer (`common`, `organizations`).
 * openid-client compares an ID token's `iss` with one discovered issuer; here that is a template
 * and each user's tokens carry their own tenant. openid-client itself handles this only for
 * https://login.microsoftonline.com (not the US Government or China clouds, nor a test IdP), and
 * lets any tenant in. So the grants run on oauth4webapi (openid-client's own protocol layer), in
 * two steps: the token response's `tid` (read, not trusted) picks the tenant, which must be in
 * `provider.entra.tenants`; then oauth4webapi validates the response against the server metadata
 * *of that tenant* — `iss` must be the template with that `tid`, plus aud, azp, exp, iat, nonce,
 * as for any provider. A token naming an allowed `tid` with another tenant's `iss` fails there.
 * The signature is verified with jose after, as for every ID token (openIdConnect.ts).
 */
export class TenantGrants implements TokenGrants {
  private readonly server: oauth.AuthorizationServer;
  private readonly client: oauth.Client;
  private readonly auth: oauth.ClientAuth;
  private readonly insecure: boolean;

  constructor(
    conf: client.Configuration,
    private readonly s: TenantGrantSettings,
  ) {
    // The metadata as discovered, without the helper functions openid-client adds to its copy.
    const { supportsPKCE: _helper, ...metadata } = conf.serverMetadata();
    this.server = metadata as oauth.AuthorizationServer;
    const issuer = metadata.issuer;
    this.client = { client_id: s.clientId, [oauth.clockTolerance]: s.clockToleranceSeconds };
    if (s.algorithm !== 'RS256') this.client.id_token_signed_response_alg = s.algorithm;
    this.auth = oauth.ClientSecretBasic(s.clientSecret);
    this.insecure = new URL(issuer).protocol === 'http:';
  }

  /** The server metadata as seen by one tenant's tokens. */
  private tenantServer(tid: string | undefined): oauth.AuthorizationServer {
    return tid === undefined ? this.server : { ...this.server, issuer: tenantIssuer(this.s.template, tid) };
  }

  private options(): oauth.TokenEndpointRequestOptions {
    return {
      [oauth.allowInsecureRequests]: this.insecure,
      [oauth.customFetch]: this.s.fetch as unknown as NonNullable<
        oauth.TokenEndpointRequestOptions[typeof oauth.customFetch]
      >,
      signal: AbortSignal.timeout(this.s.timeoutSeconds * 1000),
    };
  }

  async authorizationCode(callbackUrl: URL, checks: CallbackChecks): Promise<GrantResponse> {
    const redirectUri = new URL(callbackUrl.pathname, callbackUrl.origin).href;
    // An RFC 9207 `iss` in the callback (Entra sends none) must name an allowed tenant's issuer.
    const callbackIss = callbackUrl.searchParams.get('iss');
    const byIss =
      callbackIss === null ? undefined : this.s.tenants.find((t) => this.issuerOf(t) === callbackIss);
    const params = await guard(async () =>
      oauth.validateAuthResponse(
        this.tenantServer(byIss),
        this.client,
        callbackUrl.searchParams,
        checks.state,
      ),
    );
    const response = await guard(() =>
      oauth.authorizationCodeGrantRequest(
        this.server,
        this.client,
        this.auth,
        params,
        redirectUri,
        checks.codeVerifier,
        this.options(),
      ),
    );
    const tid = await this.allowedTenantOf(response, true);
    const result = await guard(() =>
      oauth.processAuthorizationCodeResponse(this.tenantServer(tid), this.client, response, {
        expectedNonce: checks.nonce,
        requireIdToken: true,
      }),
    );
    return withHelpers(result);
  }

  async refresh(refreshToken: string): Promise<GrantResponse> {
    const response = await guard(() =>
      oauth.refreshTokenGrantRequest(this.server, this.client, this.auth, refreshToken, this.options()),
    );
    const tid = await this.allowedTenantOf(response, false);
    const result = await guard(() =>
      oauth.processRefreshTokenResponse(this.tenantServer(tid), this.client, response),
    );
    return withHelpers(result);
  }

  private issuerOf(tid: string): string {
    return tenantIssuer(this.s.template, tid);
  }

  /**
   * The `tid` of the response's ID token, when the response is a success with one; refused when it
   * is not an allowed tenant. Read without trusting it: it only chooses what `iss` must then be.
   */
  private async allowedTenantOf(response: Response, idTokenRequired: boolean): Promise<string | undefined> {
    if (response.status !== 200) return undefined; // oauth4webapi turns the error answer into an error
    let idToken: unknown;
    try {
      idToken = ((await response.clone().json()) as Record<string, unknown>).id_token;
    } catch {
      return undefined; // not JSON: oauth4webapi says so
    }
    if (typeof idToken !== 'string') {
      if (idTokenRequired) return undefined; // requireIdToken refuses it
      return undefined;
    }
    let tid: unknown;
    try {
      tid = decodeJwt(idToken).tid;
    } catch {
      return undefined; // not a JWT: oauth4webapi refuses it
    }
    if (typeof tid !== 'string' || !this.s.tenants.includes(tid.toLowerCase())) {
      throw new GatehouseError(
        'forbidden',
        403,
        'Your organization (Microsoft Entra tenant) is not allowed to sign in here. Ask the administrator to add it, or sign in with an account of an allowed organization.',
        {
          message: `the ID token's tenant (tid ${typeof tid === 'string' ? tid : 'missing'}) is not in provider.entra.tenants`,
        },
      );
    }
    return tid.toLowerCase();
  }
}

/** The helpers openid-client adds to a token response (claims(), expiresIn()). */
function withHelpers(result: oauth.TokenEndpointResponse): GrantResponse {
  return Object.assign(result, {
    claims: () => oauth.getValidatedIdTokenClaims(result),
    expiresIn: () => result.expires_in,
  }) as unknown as GrantResponse;
}

/**
 * oauth4webapi's errors as errors.ts codes them: an OAuth error body is a ResponseBodyError (the
 * class openid-client re-exports); another non-200 answer is coded by its status here.
 */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (
      err instanceof oauth.OperationProcessingError &&
      err.cause instanceof Response &&
      err.cause.status !== 200
    ) {
      const status = err.cause.status;
      throw new OidcError(
        status >= 500 || status === 429 ? 'provider_error' : 'unexpected_status',
        {
          oauthError: `http_${status}`,
          description: `the identity provider answered HTTP ${status}`,
          status,
        },
        err,
      );
    }
    throw err;
  }
}
