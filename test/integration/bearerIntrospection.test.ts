import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Provider from 'oidc-provider';
import { TestBrowser } from '../helpers/browser.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * Opaque bearer tokens through RFC 7662 introspection, against a real provider: `oidc-provider`
 * from npm issuing client-credentials access tokens (opaque, audience `gatehouse-api` via resource
 * indicators) and answering introspection. Its introspection requests are counted at its door,
 * and `failIntrospection` turns them into 503s there (an outage of that endpoint alone).
 */
const SECRET = 'interop-secret-interop-secret-0001';
const INTROSPECTION_PATH = '/token/introspection';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('bearer introspection against oidc-provider', () => {
  let op: Server;
  let opUrl: string;
  let gateway: GatewayUnderTest;
  let upstream: EchoUpstream;
  let introspections = 0;
  let failIntrospection = false;

  before(async () => {
    const gwPort = await freePort();
    op = createServer();
    opUrl = `http://127.0.0.1:${await listen(op)}`;
    const provider = new Provider(opUrl, {
      clients: [
        {
          client_id: 'gatehouse',
          client_secret: SECRET,
          redirect_uris: [`http://127.0.0.1:${gwPort}/oauth2/callback`],
          grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
          response_types: ['code'],
        },
        {
          client_id: 'ci-bot',
          client_secret: 'ci-bot-secret-ci-bot-secret-000001',
          redirect_uris: [],
          grant_types: ['client_credentials'],
          response_types: [],
        },
      ],
      scopes: ['openid', 'offline_access', 'email', 'profile', 'api:read', 'api:write'],
      features: {
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => 'urn:gatehouse-api',
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'api:read api:write',
            audience: 'gatehouse-api',
            accessTokenFormat: 'opaque',
            accessTokenTTL: 600,
          }),
        },
      },
      cookies: { keys: ['interop-cookie-key-0123456789'] },
      findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    } as never);
    const handle = provider.callback();
    op.on('request', (req, res) => {
      if (req.url?.startsWith(INTROSPECTION_PATH)) {
        introspections++;
        if (failIntrospection) {
          res.statusCode = 503;
          res.end('down');
          return;
        }
      }
      handle(req, res);
    });
    upstream = await startEchoUpstream();
    gateway = await startGateway({
      issuer: opUrl,
      upstream: upstream.url,
      port: gwPort,
      config: {
        provider: { clientSecret: SECRET },
        bearer: { accept: ['introspection'], audiences: ['gatehouse-api'] },
        authorization: { rules: [{ pathPrefix: '/write', requiredScopes: ['api:write'] }] },
        logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' },
      } as StackConfig,
    });
  });

  after(async () => {
    await gateway.close();
    await upstream.close();
    op.closeAllConnections();
    await new Promise((r) => op.close(r));
  });

  async function clientCredentials(id: string, secret: string, scope = 'api:read'): Promise<string> {
    const res = await fetch(`${opUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: 'urn:gatehouse-api' }),
    });
    const body = (await res.json()) as { access_token?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.access_token && !body.access_token.includes('.'), 'an opaque token');
    return body.access_token;
  }

  const call = (token: string, path = '/x', kind: 'api' | 'navigate' = 'api') =>
    new TestBrowser().request(`${gateway.url}${path}`, {
      kind,
      headers: { authorization: `Bearer ${token}` },
    });

  it('client credentials (a machine client) → 200 with X-Forwarded-User = its client id', async () => {
    const token = await clientCredentials('ci-bot', 'ci-bot-secret-ci-bot-secret-000001');
    const r = await call(token);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['set-cookie'], undefined);
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-forwarded-user'], 'ci-bot');
    assert.equal(h['x-forwarded-client-id'], 'ci-bot');
  });

  it('a burst of 200 requests with one opaque token → exactly 1 introspection call', async () => {
    const token = await clientCredentials('gatehouse', SECRET);
    const before = introspections;
    const replies = await Promise.all(Array.from({ length: 200 }, () => call(token)));
    assert.ok(replies.every((r) => r.status === 200));
    assert.equal(introspections - before, 1);
  });

  it('a revoked opaque token → 401 invalid_token; a random one too', async () => {
    const token = await clientCredentials('gatehouse', SECRET);
    const rev = await fetch(`${opUrl}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`gatehouse:${SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    assert.equal(rev.status, 200);
    for (const t of [token, 'random-opaque-token-value']) {
      const r = await call(t, '/x', 'navigate');
      assert.equal(r.status, 401, r.body);
      assert.equal(r.location, undefined);
      assert.equal(r.json().error, 'invalid_token');
      assert.match(
        String(r.headers['www-authenticate']),
        /error="invalid_token", error_description="the token is not active"/,
      );
    }
  });

  it('requiredScopes against the introspected scope: 403 insufficient_scope with scope=', async () => {
    const token = await clientCredentials('ci-bot', 'ci-bot-secret-ci-bot-secret-000001', 'api:read');
    const r = await call(token, '/write/x');
    assert.equal(r.status, 403);
    assert.equal(r.json().error, 'insufficient_scope');
    assert.match(String(r.headers['www-authenticate']), /error="insufficient_scope".*scope="api:write"/);
    const both = await clientCredentials(
      'ci-bot',
      'ci-bot-secret-ci-bot-secret-000001',
      'api:read api:write',
    );
    assert.equal((await call(both, '/write/x')).status, 200);
  });

  it('introspection failing → 503 JSON with Retry-After, never 200, never a redirect; not cached', async () => {
    const token = await clientCredentials('gatehouse', SECRET);
    failIntrospection = true;
    try {
      const r = await call(token, '/x', 'navigate');
      assert.equal(r.status, 503, r.body);
      assert.ok(Number(r.headers['retry-after']) >= 1);
      assert.equal(r.location, undefined);
      assert.match(String(r.headers['content-type']), /application\/json/);
    } finally {
      failIntrospection = false;
    }
    assert.equal((await call(token)).status, 200, 'the failure was not remembered');
  });
});
