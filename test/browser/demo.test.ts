import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDemoApp } from '../../src/demo/upstreamApp.js';
import { launchChromium } from '../helpers/chromium.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';

/**
 * A real headless Chromium (Debian's, driven by playwright-core) logs in through the dev IdP's
 * login page, sees the demo page with its identity and a live panel that keeps working across
 * token refreshes, then logs out.
 */

describe('browser: demo login, live panel, logout (headless Chromium)', () => {
  // Short tokens (2 s) so the live panel crosses several refreshes during the test; the IdP's
  // login page, not auto-login.
  const idp = useTestIdp({ autoLogin: undefined, accessTokenTtl: 2, idTokenTtl: 2 });
  let gateway: GatewayUnderTest;
  let gwUrl: string;
  let app: Awaited<ReturnType<typeof startDemoApp>>;
  let browser: Browser;

  before(async () => {
    app = await startDemoApp(0);
    gateway = await startGateway({
      issuer: idp.issuer,
      upstream: app.url,
      config: { logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' } } as StackConfig,
    });
    gwUrl = gateway.url;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    app?.server.close();
  });

  it('logs in on the IdP page, shows the identity, keeps the live panel working, logs out', async () => {
    const page = await browser.newPage();
    await page.goto(`${gwUrl}/`);
    // The dev IdP's login page: pick alice.
    assert.ok(page.url().startsWith(idp.issuer), `on the IdP login page, got ${page.url()}`);
    await page.getByRole('button', { name: /alice/i }).first().click();
    await page.waitForURL(`${gwUrl}/`);
    assert.equal(await page.locator('code[data-header="x-forwarded-user"]').textContent(), 'alice');
    assert.equal(await page.locator('code[data-header="x-forwarded-groups"]').textContent(), 'admins,dev');
    const cookies = await page.context().cookies(gwUrl);
    const session = cookies.find((c) => c.name === 'gatehouse');
    assert.ok(session?.httpOnly && session.value.length < 200);

    // The panel polls every second; tokens live 2 s: wait for six polls (three refresh cycles).
    await page.waitForFunction('Number(document.getElementById("count")?.textContent) >= 6', undefined, {
      timeout: 20_000,
    });
    assert.equal(await page.locator('#failures').textContent(), '0');
    assert.match((await page.locator('#panel').textContent()) ?? '', /^ok: alice/);
    assert.ok(idp.stats().grants.refresh_token >= 1, 'the session was refreshed while the page polled');
    assert.equal(idp.stats().errors.invalid_grant ?? 0, 0);

    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL(`${gwUrl}/oauth2/signed-out`);
    assert.match(await page.content(), /You are signed out/);
    const after = await page.context().cookies(gwUrl);
    assert.equal(
      after.find((c) => c.name === 'gatehouse'),
      undefined,
      'session cookie removed',
    );
    await page.screenshot({ path: '/tmp/gatehouse-browser-signed-out.png' });
  });
});
