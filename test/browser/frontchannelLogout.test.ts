import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startDemoApp } from '../../src/demo/upstreamApp.js';
import { launchChromium } from '../helpers/chromium.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { freePort } from '../helpers/ports.js';
import { type GatewayUnderTest, startGateway } from '../helpers/stack.js';

/**
 * Front-channel logout (issue 10 item 5) in a real headless Chromium: a user signs out at the
 * IdP's end-session page directly (not through the gateway); the page frames the gateway's
 * /oauth2/frontchannel-logout, the frame is allowed (frame-ancestors = the issuer's origin) and
 * loads, and the gateway session of that sid is gone while another browser's session survives.
 * No back-channel URI is configured: only the iframe can end the session.
 */
describe('browser: front-channel logout from the IdP end-session page (headless Chromium)', () => {
  let gwPort: number;
  const idp = useTestIdp(async () => {
    gwPort = await freePort();
    return {
      autoLogin: undefined, // the login page, as a person signs in
      frontchannelLogoutUri: `http://127.0.0.1:${gwPort}/oauth2/frontchannel-logout`,
    };
  });
  let gateway: GatewayUnderTest;
  let app: Awaited<ReturnType<typeof startDemoApp>>;
  let browser: Browser;

  before(async () => {
    app = await startDemoApp(0);
    gateway = await startGateway({
      issuer: idp.issuer,
      upstream: app.url,
      port: gwPort,
      config: { logging: { level: 'info' } },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    app?.server.close();
  });

  async function signedIn(): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${gateway.url}/`);
    assert.ok(page.url().startsWith(idp.issuer), `on the IdP login page, got ${page.url()}`);
    await page.getByRole('button', { name: /alice/i }).first().click();
    await page.waitForURL(`${gateway.url}/`);
    await assertSignedIn(page);
    return { ctx, page };
  }

  async function assertSignedIn(page: Page): Promise<void> {
    const r = await page.goto(`${gateway.url}/`);
    assert.equal(r?.status(), 200);
    assert.equal(page.url(), `${gateway.url}/`, 'not sent to the IdP');
    assert.equal(await page.locator('code[data-header="x-forwarded-user"]').textContent(), 'alice');
  }

  it('signing out at the IdP frames the gateway, which ends that session only', async () => {
    const one = await signedIn();
    const two = await signedIn(); // another browser profile: another IdP session, another sid
    const framed = one.page.waitForResponse((r) =>
      r.url().startsWith(`${gateway.url}/oauth2/frontchannel-logout?`),
    );
    await one.page.goto(`${idp.issuer}/end-session`);
    const response = await framed;
    assert.equal(response.status(), 200);
    const sid = new URL(response.url()).searchParams.get('sid');
    assert.ok(sid);
    // The frame rendered our page (a frame-ancestors refusal shows Chromium's error page instead).
    const frame = one.page
      .frames()
      .find((f) => f.url().startsWith(`${gateway.url}/oauth2/frontchannel-logout`));
    assert.ok(frame, 'the iframe is on the end-session page');
    assert.equal(await frame.locator('h1').textContent(), 'Signed out');
    assert.match(await frame.content(), /Your session has ended/);
    // The next request of that browser goes to sign in again; the other browser is still in.
    await one.page.goto(`${gateway.url}/`);
    assert.ok(one.page.url().startsWith(idp.issuer), `sent to sign in again, got ${one.page.url()}`);
    await assertSignedIn(two.page);
    assert.ok(gateway.logs.some((l) => l.msg === 'front-channel logout' && l.sid === sid && l.ended === 1));
    await one.ctx.close();
    await two.ctx.close();
  });
});
