import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Provider from 'oidc-provider';
import { ManualClock } from '../../src/util/clock.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { walkOpLogin } from '../helpers/oidcProviderLogin.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * Interop with an independent, certified OpenID provider (`oidc-provider` from npm), driven
 * through its own login and consent pages. It releases profile claims only from userinfo
 * (conformIdTokenClaims), and issues refresh tokens only with prompt=consent (OIDC Core §11).
 */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('interop: oidc-provider from npm', () => {
  let op: Server;
  let opUrl: string;
  let gateway: GatewayUnderTest;
  let gwUrl: string;
  let upstream: EchoUpstream;
  const clock = new ManualClock();
  let tokenRequests = 0;

  before(async () => {
    const gwPort = await freePort();
    op = createServer();
    const opPort = await listen(op);
    opUrl = `http://127.0.0.1:${opPort}`;
    gwUrl = `http://127.0.0.1:${gwPort}`;
    const provider = new Provider(opUrl, {
      clients: [
        {
          client_id: 'gatehouse',
          client_secret: 'interop-secret-interop-secret-0001',
          redirect_uris: [`${gwUrl}/oauth2/callback`],
          post_logout_redirect_uris: [`${gwUrl}/oauth2/signed-out`],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      ],
      pkce: { required: () => true },
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      claims: { email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'groups'] },
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['interop-cookie-key-0123456789'] },
      ttl: { AccessToken: 120, IdToken: 120 },
      findAccount: async (_ctx: unknown, sub: string) => ({
        accountId: sub,
        claims: async () => ({
          sub,
          email: `${sub}@interop.example`,
          email_verified: true,
          name: `User ${sub}`,
          preferred_username: sub,
          groups: ['interop-admins', 'interop-dev'],
        }),
      }),
    } as never);
    provider.on('grant.success', () => tokenRequests++);
    op.on('request', provider.callback());
    upstream = await startEchoUpstream();
    gateway = await startGateway({
      issuer: opUrl,
      upstream: upstream.url,
      port: gwPort,
      clock,
      config: {
        provider: {
          clientSecret: 'interop-secret-interop-secret-0001',
          useUserinfo: true,
          authorizationParams: { prompt: 'consent' },
        },
        logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' },
      } as StackConfig,
    });
  });

  after(async () => {
    await gateway.close();
    await upstream.close();
    await new Promise<void>((r) => {
      op.close(() => r());
      op.closeAllConnections();
    });
  });

  /** Walks the provider's own login and consent pages like a user would. */
  async function loginThroughOp(b: TestBrowser, path: string): Promise<Reply> {
    return (await walkOpLogin({ browser: b, startUrl: gwUrl + path, opUrl, user: 'interop-user' })).reply;
  }

  it('completes a code + PKCE flow, reads identity from userinfo, and forwards it', async () => {
    const b = new TestBrowser();
    const r = await loginThroughOp(b, '/interop?x=1');
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const echo = r.json<{ url: string; headers: Record<string, string> }>();
    assert.equal(echo.url, '/interop?x=1');
    assert.equal(echo.headers['x-forwarded-user'], 'interop-user');
    assert.equal(echo.headers['x-forwarded-email'], 'interop-user@interop.example');
    assert.equal(echo.headers['x-forwarded-groups'], 'interop-admins,interop-dev');
  });

  it('refreshes against oidc-provider after expiry without a new login', async () => {
    const b = new TestBrowser();
    assert.equal((await loginThroughOp(b, '/r')).status, 200);
    const grantsBefore = tokenRequests;
    clock.advance(121_000);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => b.request(`${gwUrl}/after-expiry`, { kind: 'api' })),
    );
    assert.deepEqual(
      results.map((x) => x.status),
      Array(20).fill(200),
    );
    assert.equal(tokenRequests - grantsBefore, 1, 'one refresh grant for twenty concurrent requests');
    assert.equal(
      results[0]!.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'],
      'interop-user',
    );
  });

  it('logs out through the provider end_session_endpoint', async () => {
    const b = new TestBrowser();
    assert.equal((await loginThroughOp(b, '/bye')).status, 200);
    const r = await b.request(`${gwUrl}/oauth2/logout`, { method: 'POST' });
    assert.equal(r.status, 303);
    const loc = new URL(r.location!);
    assert.equal(loc.origin, opUrl);
    assert.ok(loc.searchParams.get('id_token_hint'));
    const after = await b.request(`${gwUrl}/bye`, { kind: 'api' });
    assert.equal(after.status, 401);
  });
});
