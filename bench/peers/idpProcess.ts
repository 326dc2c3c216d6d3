/**
 * The certified IdP for `bench:peers`, in its own process: `oidc-provider` from npm with refresh-token
 * rotation (and its reuse detection), dev login/consent pages, and counters the harness reads at
 * `GET /__stats` (`POST /__reset` zeroes them). Clients come as JSON in argv[2]; a client whose id ends
 * in `-herd` gets short-lived access tokens (argv[3] seconds) so the refresh herd has something to refresh.
 * Prints `listening PORT` when ready.
 */
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

interface ClientSpec {
  id: string;
  secret: string;
  redirect: string;
}
const clients = JSON.parse(process.argv[2] ?? '[]') as ClientSpec[];
const herdTtl = Number(process.argv[3] ?? '4');
const port = Number(process.argv[4] ?? '0');
const issuer = `http://127.0.0.1:${port}`;

const stats = { refreshGrants: 0, codeGrants: 0, invalidGrants: 0, tokenErrors: 0 };
const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.id,
    client_secret: c.secret,
    redirect_uris: [c.redirect],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  })),
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  claims: { email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['bench-peers-cookie-key-0123456789'] },
  // Every confidential client gets a refresh token (without it neither RP can refresh), and every
  // refresh rotates it: a second use of a spent refresh token is `invalid_grant` and revokes the grant.
  issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
    client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: (_ctx: unknown, _token: unknown, client: { clientId: string }) =>
      client.clientId.endsWith('-herd') ? herdTtl : 3600,
    IdToken: 3600,
    RefreshToken: 86_400,
    Session: 86_400,
    Grant: 86_400,
    Interaction: 600,
  },
  findAccount: async (_ctx: unknown, sub: string) => ({
    accountId: sub,
    claims: async () => ({
      sub,
      email: `${sub}@bench.example`,
      email_verified: true,
      name: `User ${sub}`,
      preferred_username: sub,
    }),
  }),
} as never);
provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: string } } }) => {
  const t = ctx.oidc.params?.grant_type;
  if (t === 'refresh_token') stats.refreshGrants++;
  else if (t === 'authorization_code') stats.codeGrants++;
});
provider.on('grant.error', (_ctx: unknown, err: { error?: string }) => {
  stats.tokenErrors++;
  if (err.error === 'invalid_grant') stats.invalidGrants++;
});
// Quiet: oidc-provider logs nothing by default, but its dev-interactions warning goes to stderr once.
const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url === '/__stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
    return;
  }
  if (req.url === '/__reset' && req.method === 'POST') {
    for (const k of Object.keys(stats) as Array<keyof typeof stats>) stats[k] = 0;
    res.end('{}');
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${port}\n`);
});
