import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import {
  loginThroughOp,
  OP_CLIENT_SECRET,
  type RunningOidcProvider,
  startOidcProvider,
} from '../helpers/oidcProvider.js';
import { freePort, type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

type Echo = { headers: Record<string, string> };

/**
 * provider.useUserinfo: auto (the default) against oidc-provider on its defaults, where the ID
 * token of a code flow carries no email/profile claims (OIDC Core §5.4, conformIdTokenClaims):
 * the gateway reads userinfo because the ID token lacks them, with no extra configuration.
 */
async function stackWith(
  opOpts: Parameters<typeof startOidcProvider>[0],
  config: StackConfig,
): Promise<{ op: RunningOidcProvider; gw: GatewayUnderTest; up: EchoUpstream }> {
  const port = await freePort();
  const gwUrl = `http://127.0.0.1:${port}`;
  const op = await startOidcProvider({ gatewayUrl: gwUrl, ...opOpts });
  const up = await startEchoUpstream();
  const gw = await startGateway({
    issuer: op.url,
    upstream: up.url,
    port,
    config: {
      ...config,
      provider: { clientSecret: OP_CLIENT_SECRET, ...(config.provider as object) },
      logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' },
    } as StackConfig,
  });
  return { op, gw, up };
}

describe('interop: useUserinfo auto with oidc-provider defaults (claims only at userinfo)', () => {
  let s: Awaited<ReturnType<typeof stackWith>>;
  before(async () => {
    s = await stackWith({}, { authorization: { allowedEmailDomains: ['interop.example'] } });
  });
  after(async () => {
    await s.gw.close();
    await s.up.close();
    await s.op.close();
  });

  it('e-mail and groups reach the upstream, and allowedEmailDomains admits the user', async () => {
    const r = await loginThroughOp(new TestBrowser(), `${s.gw.url}/app`, s.op.url);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const h = r.json<Echo>().headers;
    assert.equal(h['x-forwarded-email'], 'interop-user@interop.example');
    assert.equal(h['x-forwarded-groups'], 'interop-admins,interop-dev');
    assert.equal(h['x-forwarded-user'], 'interop-user');
    assert.equal(s.op.counts.userinfo, 1, 'one userinfo call for one login');
  });

  it('useUserinfo: false still forces it off (the e-mail is missing and the domain rule denies)', async () => {
    const off = await stackWith(
      {},
      { provider: { useUserinfo: false }, authorization: { allowedEmailDomains: ['interop.example'] } },
    );
    try {
      const r = await loginThroughOp(new TestBrowser(), `${off.gw.url}/app`, off.op.url);
      assert.equal(r.status, 403);
      assert.equal(off.op.counts.userinfo, 0);
    } finally {
      await off.gw.close();
      await off.up.close();
      await off.op.close();
    }
  });
});

describe('interop: useUserinfo auto skips userinfo when the ID token has every claim', () => {
  let s: Awaited<ReturnType<typeof stackWith>>;
  before(async () => {
    // conformIdTokenClaims off: oidc-provider puts the scope's claims in the ID token too.
    s = await stackWith(
      { features: { claimsParameter: { enabled: false } }, configuration: { conformIdTokenClaims: false } },
      {},
    );
  });
  after(async () => {
    await s.gw.close();
    await s.up.close();
    await s.op.close();
  });

  it('logs in with the ID token alone: zero userinfo calls', async () => {
    const r = await loginThroughOp(new TestBrowser(), `${s.gw.url}/app`, s.op.url);
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const h = r.json<Echo>().headers;
    assert.equal(h['x-forwarded-email'], 'interop-user@interop.example');
    assert.equal(h['x-forwarded-groups'], 'interop-admins,interop-dev');
    assert.equal(s.op.counts.userinfo, 0);
  });
});
