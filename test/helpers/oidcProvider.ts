// A real, certified OpenID provider (panva `oidc-provider` from node_modules) as tests start it,
// plus the helpers that walk its own login and consent pages like a user would. One place, so
// every interop suite starts the same provider and only says what differs (clients, features,
// claims, ttl, or any other oidc-provider configuration key, passed through unchanged).
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import type { Reply, TestBrowser } from './browser.js';
import { walkOpLogin } from './oidcProviderLogin.js';

export const OP_CLIENT_ID = 'gatehouse';
export const OP_CLIENT_SECRET = 'interop-secret-interop-secret-0001';

/** The claims every test account has; `sub` is the login name typed on the provider's page. */
export function defaultAccountClaims(sub: string): Record<string, unknown> {
  return {
    sub,
    email: `${sub}@interop.example`,
    email_verified: true,
    name: `User ${sub}`,
    preferred_username: sub,
    groups: ['interop-admins', 'interop-dev'],
  };
}

/** The gateway's client registration at the provider, for a gateway at `gatewayUrl`. */
export function gatewayClient(gatewayUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    client_id: OP_CLIENT_ID,
    client_secret: OP_CLIENT_SECRET,
    redirect_uris: [`${gatewayUrl}/oauth2/callback`],
    post_logout_redirect_uris: [`${gatewayUrl}/oauth2/signed-out`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...overrides,
  };
}

export interface OidcProviderOptions {
  /** Registered clients (default: one `gatewayClient(gatewayUrl)` when `gatewayUrl` is given). */
  clients?: Record<string, unknown>[];
  gatewayUrl?: string;
  /** oidc-provider `features`; devInteractions stays on unless overridden. */
  features?: Record<string, unknown>;
  /** oidc-provider `claims` (scope → claims). */
  claims?: Record<string, string[]>;
  scopes?: string[];
  ttl?: Record<string, unknown>;
  /** The claims of account `sub` (default: `defaultAccountClaims`). */
  accountClaims?: (sub: string) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Any other oidc-provider configuration, passed through unchanged (wins over the above). */
  configuration?: Record<string, unknown>;
  /** Serve over TLS with this key and certificate (PEM); the issuer is then https://. */
  tls?: { key: string; cert: string };
  /** Host name in the issuer (default 127.0.0.1; a TLS test may want `localhost`). */
  host?: string;
  /** Port to listen on (default a free one); a test restarts the provider at the same issuer with it. */
  port?: number;
}

export interface RunningOidcProvider {
  url: string;
  provider: Provider;
  /** Calls seen by the provider, by kind, so tests can assert how often the gateway asked. */
  counts: { grants: number; userinfo: number; endSession: number; jwks: number; discovery: number };
  close(): Promise<void>;
}

export async function startOidcProvider(opts: OidcProviderOptions = {}): Promise<RunningOidcProvider> {
  const server: Server = opts.tls
    ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert })
    : createServer();
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `${opts.tls ? 'https' : 'http'}://${opts.host ?? '127.0.0.1'}:${port}`;
  const clients = opts.clients ?? (opts.gatewayUrl ? [gatewayClient(opts.gatewayUrl)] : []);
  const accountClaims = opts.accountClaims ?? defaultAccountClaims;
  const provider = new Provider(url, {
    clients,
    pkce: { required: () => true },
    scopes: opts.scopes ?? ['openid', 'offline_access', 'email', 'profile'],
    claims: opts.claims ?? {
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
    },
    features: { devInteractions: { enabled: true }, ...opts.features },
    cookies: { keys: ['interop-cookie-key-0123456789'] },
    ttl: opts.ttl ?? { AccessToken: 120, IdToken: 120 },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => accountClaims(sub),
    }),
    ...opts.configuration,
  } as never);
  const counts = { grants: 0, userinfo: 0, endSession: 0, jwks: 0, discovery: 0 };
  provider.on('grant.success', () => counts.grants++);
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/me') counts.userinfo++;
    else if (path === '/session/end') counts.endSession++;
    else if (path === '/jwks') counts.jwks++;
    else if (path === '/.well-known/openid-configuration') counts.discovery++;
    callback(req, res);
  });
  return {
    url,
    provider,
    counts,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export { formAction } from './oidcProviderLogin.js';

/**
 * Starts at `startUrl` (a gateway URL) and walks redirects and the provider's own login and
 * consent pages (devInteractions) until something other than a provider page answers.
 */
export async function loginThroughOp(
  b: TestBrowser,
  startUrl: string,
  opUrl: string,
  login = 'interop-user',
): Promise<Reply> {
  return (await walkOpLogin({ browser: b, startUrl, opUrl, user: login })).reply;
}
