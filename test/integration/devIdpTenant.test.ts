// A Gatehouse whose provider is a dev IdP tenant (issuerPaths): discovery, the code flow, the
// ID token checks and the session all run against `<root>/<name>`, not the root issuer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DevIdp } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { type Stack, startStack } from '../helpers/stack.js';

const TENANT = 'realms/main';

describe('Gatehouse against a dev IdP tenant issuer', () => {
  let idp: DevIdp;
  let s: Stack;
  before(async () => {
    idp = await startTestIdp({ issuerPaths: [TENANT] });
    s = await startStack({ idpInstance: idp, config: { provider: { issuer: idp.tenant(TENANT).issuer } } });
  });
  after(async () => {
    await s.close();
    await idp.stop();
  });

  it('logs in end to end through the tenant and forwards the identity upstream', async () => {
    const tenant = idp.tenant(TENANT);
    const b = new TestBrowser();
    const hops = await b.follow(`${s.url}/dashboard`);
    assert.ok(
      hops.some((h) => h.location?.startsWith(`${tenant.issuer}/authorize?`)),
      `the login went to the tenant: ${hops.map((h) => h.location).join(' → ')}`,
    );
    const last = hops.at(-1);
    assert.equal(last?.status, 200);
    const echo = last?.json<{ url: string; headers: Record<string, string> }>();
    assert.equal(echo?.url, '/dashboard');
    assert.equal(echo?.headers['x-forwarded-email'], 'alice@example.com');
    assert.equal(tenant.stats().grants.authorization_code, 1);
    assert.equal(idp.stats().grants.authorization_code, 0, 'the root issuer saw no login');
    assert.equal((await b.request(`${s.url}/again`)).status, 200, 'the session holds');
  });
});
