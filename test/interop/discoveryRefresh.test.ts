import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import {
  loginThroughOp,
  OP_CLIENT_SECRET,
  type RunningOidcProvider,
  startOidcProvider,
} from '../helpers/oidcProvider.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * `provider.discoveryRefreshSeconds`: discovery is re-read in the background on a timer. The
 * provider (`oidc-provider` from npm) is restarted at the same issuer with other endpoints
 * (token, JWKS, userinfo): a failed re-read while it is down keeps the metadata in use, a
 * successful one swaps the endpoints and the next login uses the new ones. The timer is the
 * gateway's real setInterval, driven by node:test's mock timers (only setInterval is mocked).
 */
describe('background re-read of discovery (oidc-provider restarted with new endpoints)', () => {
  let op: RunningOidcProvider;
  let opPort: number;
  let gwPort: number;
  let gateway: GatewayUnderTest;
  let upstream: EchoUpstream;

  before(async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    gwPort = await freePort();
    opPort = await freePort();
    op = await startOidcProvider({ gatewayUrl: `http://127.0.0.1:${gwPort}`, port: opPort });
    upstream = await startEchoUpstream();
    gateway = await startGateway({
      issuer: op.url,
      upstream: upstream.url,
      port: gwPort,
      config: {
        provider: {
          clientSecret: OP_CLIENT_SECRET,
          authorizationParams: { prompt: 'consent' },
          discoveryRefreshSeconds: 60,
        },
      } as StackConfig,
    });
  });

  after(async () => {
    await gateway.close();
    await upstream.close();
    await op.close();
    mock.timers.reset();
  });

  const logged = (msg: string) => gateway.logs.filter((l) => String(l.msg).startsWith(msg));

  it('keeps the metadata through a failed re-read, then uses the new token endpoint and jwks_uri', async () => {
    const first = await loginThroughOp(new TestBrowser(), `${gateway.url}/one`, op.url);
    assert.equal(first.status, 200, first.body.slice(0, 300));
    const discoveries = op.counts.discovery;

    // The provider goes away: the re-read fails, the gateway stays ready on what it has.
    await op.close();
    mock.timers.tick(60_000);
    await until(() => logged('re-reading OIDC discovery failed').length === 1, 'the failed re-read');
    const ready = await new TestBrowser().request(`${gateway.url}/readyz`, { kind: 'api' });
    assert.equal(ready.status, 200, 'a failed re-read does not make the gateway unready');
    assert.equal(logged('re-reading OIDC discovery failed')[0]!.level, 40, 'logged as a warning');

    // Back at the same issuer with other endpoints (and new signing keys).
    op = await startOidcProvider({
      gatewayUrl: `http://127.0.0.1:${gwPort}`,
      port: opPort,
      configuration: { routes: { token: '/oauth/token2', jwks: '/keys2', userinfo: '/me2' } },
    });
    mock.timers.tick(60_000);
    await until(() => logged('OIDC discovery changed').length === 1, 'the successful re-read');
    const changed = logged('OIDC discovery changed')[0]!.changed as string[];
    for (const k of ['jwks_uri', 'token_endpoint', 'userinfo_endpoint']) assert.ok(changed.includes(k), k);
    assert.equal(op.counts.discovery, 1, 'the restarted provider was asked once');
    assert.ok(discoveries >= 1);

    // A login now exchanges its code at /oauth/token2 and verifies the ID token with /keys2's
    // keys (the old /token and /jwks are 404 at the restarted provider).
    const b = new TestBrowser();
    const second = await loginThroughOp(b, `${gateway.url}/two`, op.url);
    assert.equal(second.status, 200, second.body.slice(0, 300));
    assert.equal(
      second.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'],
      'interop-user',
    );
    assert.equal(op.counts.grants, 1, 'the code grant succeeded at the new token endpoint');
  });
});
