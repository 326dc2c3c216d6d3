import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { ManualClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/log.js';
import { TestBrowser } from '../helpers/browser.js';
import { jsonLogSink } from '../helpers/logSink.js';
import {
  loginThroughOp,
  OP_CLIENT_SECRET,
  type RunningOidcProvider,
  startOidcProvider,
} from '../helpers/oidcProvider.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';
import { makeTestCa, type TestCa } from '../helpers/testCa.js';
import { until } from '../helpers/until.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * `provider.caFile`: a certified provider (`oidc-provider` from npm) served over https with a
 * certificate from a CA made in this test, which Node does not trust. Without caFile the gateway
 * cannot discover it and says why on /readyz; with caFile every call (discovery, token, JWKS,
 * userinfo, refresh) goes through.
 */
/** `p`, or a failure naming `what` after `ms` (a discovery that never succeeds would wait forever). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('internal CA (provider.caFile) with oidc-provider over TLS', () => {
  let ca: TestCa;
  let op: RunningOidcProvider;
  let upstream: EchoUpstream;
  let gwPort: number;
  const running: Gateway[] = [];
  // The test's own client trusts the CA too, to walk the provider's login pages.
  let browserAgent: Agent;

  before(async () => {
    ca = makeTestCa();
    browserAgent = new Agent({ connect: { ca: ca.caPem } });
    gwPort = await freePort();
    op = await startOidcProvider({
      gatewayUrl: `http://127.0.0.1:${gwPort}`,
      tls: { key: ca.key, cert: ca.cert },
      host: 'localhost',
    });
    upstream = await startEchoUpstream();
  });

  after(async () => {
    for (const gw of running) await gw.close();
    await upstream.close();
    await op.close();
    await browserAgent.close();
    ca.remove();
  });

  async function gateway(
    provider: Record<string, unknown>,
    clock = new ManualClock(),
    at: { port: number; issuer: string; registered?: boolean } = { port: gwPort, issuer: op.url },
  ) {
    const cfg = loadConfig({
      object: {
        listen: `127.0.0.1:${at.port}`,
        publicUrl: `http://127.0.0.1:${at.port}`,
        upstream: upstream.url,
        provider: {
          issuer: at.issuer,
          ...(at.registered ? {} : { clientId: 'gatehouse', clientSecret: OP_CLIENT_SECRET }),
          authorizationParams: { prompt: 'consent' },
          ...provider,
        },
        session: { secret: TEST_SECRET },
        logging: { level: 'debug' },
      },
      env: {},
    });
    const logs: Array<Record<string, unknown>> = [];
    const gw = await createGateway(cfg, { clock, logger: createLogger('debug', jsonLogSink(logs)) });
    running.push(gw);
    const url = await gw.listen();
    return { gw, url, logs, clock };
  }

  it('without caFile: discovery fails on the untrusted certificate, /readyz answers 503 with the reason', async () => {
    const before = op.counts.discovery;
    const { gw, url, logs } = await gateway({});
    await until(
      () => logs.some((l) => String(l.msg).startsWith('OIDC discovery at')),
      'the failed discovery to be logged',
    );
    const ready = await new TestBrowser().request(`${url}/readyz`, { kind: 'api' });
    assert.equal(ready.status, 503);
    const reasons = ready.json<{ reasons: string[] }>().reasons.join(' ');
    assert.match(reasons, new RegExp(`OIDC discovery at ${op.url} failed`));
    assert.match(reasons, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN/, reasons);
    assert.match(reasons, /set provider\.caFile/, 'the reason names the fix');
    assert.equal(
      op.counts.discovery,
      before,
      'no TLS handshake completed, so no request reached the provider',
    );
    const login = await new TestBrowser().request(`${url}/`, { kind: 'navigate' });
    assert.equal(login.status, 503, 'a login cannot start: the provider is not reachable');
    await gw.close();
    running.splice(running.indexOf(gw), 1);
  });

  it('with caFile: discovery, code + token, JWKS, userinfo and a refresh all go through', async () => {
    const { gw, url, clock } = await gateway({ caFile: ca.caFile });
    await within(gw.discovered, 10_000, 'discovery over the internal CA');
    const ready = await new TestBrowser().request(`${url}/readyz`, { kind: 'api' });
    assert.equal(ready.status, 200, ready.body);

    const b = new TestBrowser(browserAgent);
    const jwksBefore = op.counts.jwks;
    const r = await loginThroughOp(b, `${url}/ca?x=1`, op.url);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const echo = r.json<{ url: string; headers: Record<string, string> }>();
    assert.equal(echo.url, '/ca?x=1');
    assert.equal(echo.headers['x-forwarded-user'], 'interop-user');
    // oidc-provider releases e-mail only at userinfo: it came, over the internal CA.
    assert.equal(echo.headers['x-forwarded-email'], 'interop-user@interop.example');
    assert.ok(op.counts.userinfo >= 1, 'userinfo was read');
    assert.ok(op.counts.jwks > jwksBefore, 'the JWKS was fetched (jose, through the same transport)');

    // Past the access token's lifetime (120 s): the next request refreshes at the token endpoint.
    const grants = op.counts.grants;
    clock.advance(121_000);
    const again = await b.request(`${url}/after-expiry`, { kind: 'api' });
    assert.equal(again.status, 200, again.body);
    assert.equal(op.counts.grants - grants, 1, 'one refresh grant');
    assert.equal(
      again.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'],
      'interop-user',
    );
  });

  it('with caFile: Dynamic Client Registration at a provider over TLS goes through the same transport', async () => {
    const dcrOp = await startOidcProvider({
      tls: { key: ca.key, cert: ca.cert },
      host: 'localhost',
      features: { registration: { enabled: true, initialAccessToken: 'iat-for-the-ca-test' } },
    });
    try {
      const port = await freePort();
      // Registration runs before the gateway exists (and retries a transient failure forever).
      const { gw, url } = await within(
        gateway(
          { caFile: ca.caFile, registration: { initialAccessToken: 'iat-for-the-ca-test' } },
          new ManualClock(),
          { port, issuer: dcrOp.url, registered: true },
        ),
        10_000,
        'the client registration over the internal CA',
      );
      await within(gw.discovered, 10_000, 'discovery after registration over the internal CA');
      const r = await loginThroughOp(new TestBrowser(browserAgent), `${url}/dcr`, dcrOp.url);
      assert.equal(r.status, 200, r.body.slice(0, 300));
      assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'], 'interop-user');
    } finally {
      await dcrOp.close();
    }
  });
});
