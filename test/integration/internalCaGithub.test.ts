import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { type GatewayUnderTest, startGateway } from '../helpers/stack.js';
import { makeTestCa, type TestCa } from '../helpers/testCa.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tlsProxy.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * `provider.caFile` with `preset: github`: a GitHub Enterprise Server behind an internal CA (the
 * dev IdP's `github` profile, behind a TLS-terminating proxy whose certificate that CA signed).
 * The token grant (openid-client) and the REST API calls (/api/v3/user…) both trust the CA.
 */
describe('internal CA (provider.caFile) with GitHub Enterprise Server over TLS', () => {
  const idp = useTestIdp({ profiles: ['github'] });
  let ca: TestCa;
  let proxy: TlsProxy;
  let upstream: EchoUpstream;
  let gateway: GatewayUnderTest;
  let agent: Agent;

  before(async () => {
    ca = makeTestCa();
    agent = new Agent({ connect: { ca: ca.caPem } });
    proxy = await startTlsProxy(idp.issuer, { key: ca.key, cert: ca.cert });
    upstream = await startEchoUpstream();
    gateway = await startGateway({
      issuer: proxy.url,
      upstream: upstream.url,
      config: { provider: { preset: 'github', caFile: ca.caFile } } as never,
    });
  });

  after(async () => {
    await gateway.close();
    await upstream.close();
    await proxy.close();
    await agent.close();
    ca.remove();
  });

  it('signs in: the code grant and the GitHub API calls go through the internal CA', async () => {
    idp.reset();
    const b = new TestBrowser(agent);
    const hops = await b.follow(`${gateway.url}/ghes`, {
      rewrite: (u) => {
        // The dev IdP names its own http issuer in the callback's `iss`; behind the proxy the
        // issuer is the proxy's (real GitHub sends no `iss` at all).
        if (u.startsWith(`${gateway.url}/oauth2/callback`)) {
          const x = new URL(u);
          if (x.searchParams.has('iss')) x.searchParams.set('iss', proxy.url);
          return x.href;
        }
        if (!u.startsWith(`${proxy.url}/login/oauth/authorize`)) return u;
        const x = new URL(u);
        x.searchParams.set('login_hint', 'alice');
        return x.href;
      },
    });
    const last = hops.at(-1)!;
    assert.equal(last.status, 200, JSON.stringify(gateway.logs.filter((l) => (l.level as number) >= 40)));
    const h = last.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-forwarded-user'], 'alice');
    assert.equal(h['x-forwarded-email'], 'alice@example.com');
    assert.equal(idp.stats().grants.authorization_code, 1, 'the token endpoint was reached over TLS');
    assert.equal(idp.stats().requests.userinfo, 4, '/user, /user/emails, /user/orgs, /user/teams over TLS');
  });
});
