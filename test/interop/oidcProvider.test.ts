import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import {
  OP_CLIENT_SECRET,
  type RunningOidcProvider,
  startOidcProvider,
  loginThroughOp as walkOp,
} from '../helpers/oidcProvider.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * Interop with an independent, certified OpenID provider (`oidc-provider` from npm), driven
 * through its own login and consent pages. It releases profile claims only from userinfo
 * (conformIdTokenClaims), and issues refresh tokens only with prompt=consent (OIDC Core §11).
 */
describe('interop: oidc-provider from npm', () => {
  let op: RunningOidcProvider;
  let opUrl: string;
  let gateway: GatewayUnderTest;
  let gwUrl: string;
  let upstream: EchoUpstream;
  const clock = new ManualClock();

  before(async () => {
    const gwPort = await freePort();
    gwUrl = `http://127.0.0.1:${gwPort}`;
    op = await startOidcProvider({ gatewayUrl: gwUrl });
    opUrl = op.url;
    upstream = await startEchoUpstream();
    gateway = await startGateway({
      issuer: opUrl,
      upstream: upstream.url,
      port: gwPort,
      clock,
      config: {
        provider: {
          clientSecret: OP_CLIENT_SECRET,
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
    await op.close();
  });

  const loginThroughOp = (b: TestBrowser, path: string): Promise<Reply> => walkOp(b, gwUrl + path, opUrl);

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
    const grantsBefore = op.counts.grants;
    clock.advance(121_000);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => b.request(`${gwUrl}/after-expiry`, { kind: 'api' })),
    );
    assert.deepEqual(
      results.map((x) => x.status),
      Array(20).fill(200),
    );
    assert.equal(op.counts.grants - grantsBefore, 1, 'one refresh grant for twenty concurrent requests');
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
