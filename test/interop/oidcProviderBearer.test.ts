import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Provider, { errors as opErrors } from 'oidc-provider';
import { ManualClock } from '../../src/util/clock.js';
import { echoOf, startCaddy, startNginx } from '../frontdoors/helpers.js';
import { TestBrowser } from '../helpers/browser.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * Bearer tokens from an independent, certified provider (`oidc-provider` 9 from npm): a machine
 * client's client-credentials access tokens, as RFC 9068 JWTs for a resource (resource indicators,
 * RFC 8707) and as opaque tokens that Gatehouse introspects at the provider's own RFC 7662
 * endpoint (found through discovery, `introspection_endpoint`), authenticated as its client.
 */

const API = 'https://api.gatehouse.test/';
const OPAQUE_API = 'https://opaque.gatehouse.test/';
const OTHER_API = 'https://other.gatehouse.test/';
const BOT = { id: 'ci-bot', secret: 'ci-bot-secret-ci-bot-secret-000001' };
const GATEHOUSE_SECRET = 'interop-secret-interop-secret-0001';
const CACHE_SECONDS = 30;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
const headerOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;

describe('interop: bearer tokens from oidc-provider (client credentials, resource indicators, introspection)', () => {
  let op: Server;
  let opUrl: string;
  let gateway: GatewayUnderTest;
  let upstream: EchoUpstream;
  const clock = new ManualClock();
  /** Requests that reached the provider's introspection endpoint. */
  let introspections = 0;

  before(async () => {
    op = createServer();
    opUrl = `http://127.0.0.1:${await listen(op)}`;
    const provider = new Provider(opUrl, {
      clients: [
        {
          // the gateway: signs users in, and introspects opaque tokens as itself
          client_id: 'gatehouse',
          client_secret: GATEHOUSE_SECRET,
          redirect_uris: ['http://127.0.0.1:1/oauth2/callback'],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
        {
          // a machine client: a CI job calling the API behind Gatehouse
          client_id: BOT.id,
          client_secret: BOT.secret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          scope: 'api:read api:write',
        },
      ],
      scopes: ['openid', 'api:read', 'api:write'],
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // a client-credentials request must name its resource: no token without an audience
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            if (resource === API) {
              return {
                scope: 'api:read api:write',
                audience: 'gatehouse-api',
                accessTokenFormat: 'jwt',
                accessTokenTTL: 600,
                jwt: { sign: { alg: 'RS256' } },
              };
            }
            if (resource === OPAQUE_API) {
              return { scope: 'api:read', audience: 'gatehouse-api', accessTokenFormat: 'opaque' };
            }
            if (resource === OTHER_API) {
              return {
                scope: 'api:read',
                audience: 'billing-api',
                accessTokenFormat: 'jwt',
                jwt: { sign: { alg: 'RS256' } },
              };
            }
            throw new opErrors.InvalidTarget();
          },
        },
      },
      cookies: { keys: ['interop-cookie-key-0123456789'] },
      findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    } as never);
    provider.use(async (ctx, next) => {
      if (ctx.path === '/token/introspection') introspections++;
      await next();
    });
    op.on('request', provider.callback());
    upstream = await startEchoUpstream();
    gateway = await startGateway({
      issuer: opUrl,
      upstream: upstream.url,
      clock,
      config: {
        provider: { clientSecret: GATEHOUSE_SECRET },
        bearer: {
          accept: ['jwt', 'introspection'],
          audiences: ['gatehouse-api'],
          introspection: { cacheSeconds: CACHE_SECONDS },
        },
        logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' },
      } as StackConfig,
    });
  });

  after(async () => {
    await gateway?.close();
    await upstream?.close();
    await new Promise<void>((r) => {
      op.close(() => r());
      op.closeAllConnections();
    });
  });

  /** A client-credentials grant at the provider's token endpoint, as a CI job would make it. */
  async function clientCredentials(resource: string, scope = 'api:read'): Promise<string> {
    const res = await fetch(`${opUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${BOT.id}:${BOT.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.access_token as string;
  }

  async function revoke(token: string): Promise<void> {
    const res = await fetch(`${opUrl}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${BOT.id}:${BOT.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    assert.equal(res.status, 200);
  }

  const call = (path: string, token: string, kind: 'api' | 'navigate' = 'api') =>
    new TestBrowser().request(`${gateway.url}${path}`, {
      kind,
      headers: { authorization: `Bearer ${token}` },
    });

  function assertInvalidToken(r: Awaited<ReturnType<typeof call>>, why: RegExp): void {
    assert.equal(r.status, 401, r.body);
    assert.equal(r.location, undefined, 'never a redirect');
    assert.equal(r.headers['set-cookie'], undefined, 'never a cookie');
    assert.equal(r.json().error, 'invalid_token');
    const challenge = String(r.headers['www-authenticate']);
    assert.match(challenge, /^Bearer realm="gatehouse", error="invalid_token"/);
    assert.match(challenge, why);
  }

  it('its discovery lists the introspection endpoint Gatehouse uses', async () => {
    const meta = (await (await fetch(`${opUrl}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(meta.introspection_endpoint, `${opUrl}/token/introspection`);
  });

  it('a client-credentials JWT for the resource (typ at+jwt, aud gatehouse-api) → 200 as the machine client', async () => {
    const token = await clientCredentials(API, 'api:read api:write');
    assert.equal(headerOf(token).typ, 'at+jwt');
    const claims = claimsOf(token);
    assert.equal(claims.aud, 'gatehouse-api');
    assert.equal(claims.client_id, BOT.id);
    assert.equal(claims.sub, BOT.id, 'oidc-provider: a client-credentials token names its client as sub');
    const before = introspections;
    const r = await call('/api/builds?x=1', token);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['set-cookie'], undefined);
    const echo = r.json<{ url: string; headers: Record<string, string> }>();
    assert.equal(echo.url, '/api/builds?x=1');
    assert.equal(echo.headers['x-forwarded-user'], BOT.id);
    assert.equal(echo.headers['x-forwarded-client-id'], BOT.id);
    assert.equal(introspections, before, 'a JWT is verified locally, never introspected');
  });

  it('a JWT the provider issued for another resource (aud billing-api) → 401 invalid_token', async () => {
    const token = await clientCredentials(OTHER_API);
    assert.equal(claimsOf(token).aud, 'billing-api');
    assertInvalidToken(await call('/api/builds', token), /aud/);
  });

  it('a JWT with its signature altered → 401 invalid_token, even with navigation headers (no redirect)', async () => {
    const token = await clientCredentials(API);
    const [h, p, sig] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claimsOf(token), aud: 'gatehouse-api', sub: 'admin' })).toString('base64url')}.${sig}`;
    assert.notEqual(p, forged.split('.')[1]);
    assertInvalidToken(await call('/api/builds', forged, 'navigate'), /signature/);
  });

  it('an opaque token → introspected at the provider → 200 with the identity; a burst of it costs one call', async () => {
    const token = await clientCredentials(OPAQUE_API);
    assert.doesNotMatch(token, /\./, 'opaque: not a JWT');
    const before = introspections;
    const replies = await Promise.all(Array.from({ length: 20 }, () => call('/api/artifacts', token)));
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(20).fill(200),
      replies.find((r) => r.status !== 200)?.body,
    );
    const echo = replies[0]!.json<{ headers: Record<string, string> }>();
    assert.equal(echo.headers['x-forwarded-user'], BOT.id);
    assert.equal(echo.headers['x-forwarded-client-id'], BOT.id);
    assert.equal(introspections - before, 1, 'twenty concurrent requests, one introspection');
  });

  it('a revoked opaque token → 401 invalid_token once the cached answer is over (at most cacheSeconds)', async () => {
    const token = await clientCredentials(OPAQUE_API);
    assert.equal((await call('/api/artifacts', token)).status, 200);
    await revoke(token);
    // documented: a revoked token keeps working here for at most bearer.introspection.cacheSeconds
    clock.advance(CACHE_SECONDS * 1000 + 1000);
    const before = introspections;
    assertInvalidToken(await call('/api/artifacts', token), /not active/);
    assert.equal(introspections - before, 1, 'asked the provider again');
  });

  it('the same machine tokens through real nginx and Caddy in front of Gatehouse (the documented recipes)', async () => {
    const gatehousePort = Number(new URL(gateway.url).port);
    const upstreamPort = Number(new URL(upstream.url).port);
    const jwt = await clientCredentials(API);
    const opaque = await clientCredentials(OPAQUE_API);
    for (const start of [startNginx, startCaddy]) {
      const proxy = await start({ port: await freePort(), gatehousePort, upstreamPort });
      try {
        for (const token of [jwt, opaque]) {
          const r = await new TestBrowser().request(`${proxy.url}/api/builds`, {
            kind: 'navigate',
            headers: { authorization: `Bearer ${token}`, 'x-forwarded-client-id': 'forged' },
          });
          assert.equal(r.status, 200, `${proxy.config.slice(0, 40)}: ${r.body}`);
          const echo = echoOf(r, proxy);
          assert.equal(echo.headers['x-forwarded-user'], BOT.id);
          assert.equal(echo.headers['x-forwarded-client-id'], BOT.id);
        }
        assertInvalidToken(
          await new TestBrowser().request(`${proxy.url}/api/builds`, {
            kind: 'navigate',
            headers: { authorization: 'Bearer b3BhcXVlLWJ1dC1ub3QtaXNzdWVk' },
          }),
          /not active/,
        );
      } finally {
        await proxy.stop();
      }
    }
  });

  it('an opaque token the provider never issued → 401 invalid_token (inactive)', async () => {
    assertInvalidToken(await call('/api/artifacts', 'b3BhcXVlLWJ1dC1ub3QtaXNzdWVk'), /not active/);
  });
});
