import * as client from 'openid-client';
import type {
  CallbackChecks,
  GrantResponse,
  IdentitySourceContext,
  ProviderConnection,
  Reread,
  SignedIn,
} from './connection.js';
import { GithubIdentity, githubEndpoints, githubTokenFetch } from './github.js';
import type { OfflineAccessPlan } from './offlineAccess.js';

/**
 * The GitHub identity source (preset github): OAuth 2.0 without discovery or an ID token. Its
 * endpoints are known (github.com, or GitHub Enterprise Server at `issuer`); the code and refresh
 * grants go through openid-client as for any server, and who signed in is read from GitHub's REST
 * API (github.ts).
 */
export async function configureGithub(ctx: IdentitySourceContext): Promise<ProviderConnection> {
  const p = ctx.settings;
  const ep = githubEndpoints(p.issuer);
  const conf = new client.Configuration(
    { issuer: p.issuer, authorization_endpoint: ep.authorization, token_endpoint: ep.token },
    p.clientId,
    { client_secret: p.clientSecret },
    client.ClientSecretPost(p.clientSecret),
  );
  if (new URL(p.issuer).protocol === 'http:') client.allowInsecureRequests(conf);
  conf.timeout = p.timeoutSeconds;
  conf[client.customFetch] = githubTokenFetch(ctx.fetch);
  const identity = new GithubIdentity(ep.api, new URL(p.issuer).host, {
    timeoutMs: p.timeoutSeconds * 1000,
    run: ctx.run,
    logger: ctx.logger,
    fetch: ctx.fetch,
  });
  const offline = ctx.preset.offlineAccess({
    scopes: p.scopes,
    requestOfflineAccess: p.requestOfflineAccess,
    scopesSupported: undefined,
  });
  if (!ctx.previous) {
    ctx.logger.info({ issuer: p.issuer, api: ep.api, scopes: offline.scopes }, 'GitHub OAuth configured');
  }
  return new GithubConnection(conf, offline, identity, ctx);
}

class GithubConnection implements ProviderConnection {
  /** GitHub signs nothing for us: no JWKS, so no back-channel logout. */
  readonly keys = undefined;

  constructor(
    readonly configuration: client.Configuration,
    readonly offline: OfflineAccessPlan,
    private readonly identity: GithubIdentity,
    private readonly ctx: IdentitySourceContext,
  ) {}

  /** No ID token to carry a nonce back; state and PKCE protect the flow. */
  authorizationParams(): Record<string, string> {
    return {};
  }

  async exchangeCode(callbackUrl: URL, checks: CallbackChecks): Promise<SignedIn> {
    const conf = this.configuration;
    const res = await this.ctx.run(() =>
      client.authorizationCodeGrant(conf, callbackUrl, {
        expectedState: checks.state,
        pkceCodeVerifier: checks.codeVerifier,
        idTokenExpected: false,
      }),
    );
    const claims = await this.identity.claims(res.access_token);
    // An OAuth app token never expires and never comes with a refresh token: nothing is missing.
    return { tokens: res, claims, refreshTokenMissing: res.expires_in !== undefined && !res.refresh_token };
  }

  async reread(res: GrantResponse): Promise<Reread> {
    try {
      return { tokens: res, claims: await this.identity.claims(res.access_token) };
    } catch (err) {
      return { tokens: res, claims: undefined, unread: err };
    }
  }

  /** A GitHub OAuth app token has no expires_in: it lasts as long as the session. */
  lastsTheSession(res: client.TokenEndpointResponse): boolean {
    return res.expires_in === undefined;
  }
}
