import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../src/config/load.js';
import { startDemoApp } from '../../src/demo/upstreamApp.js';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/util/log.js';
import { launchChromium } from '../helpers/chromium.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';

/**
 * A real headless Chromium (Debian's, driven by playwright-core) logs in through the dev IdP's
 * login page, sees the demo page with its identity and a live panel that keeps working across
 * token refreshes, then logs out.
 */

describe('browser: demo login, live panel, logout (headless Chromium)', () => {
  let idp: DevIdp;
  let gw: Gateway;
  let gwUrl: string;
  let app: Awaited<ReturnType<typeof startDemoApp>>;
  let browser: Browser;

  before(async () => {
    // Short tokens (2 s) so the live panel crosses several refreshes during the test.
    idp = await startDevIdp({ port: 0, quiet: true, accessTokenTtl: 2, idTokenTtl: 2 });
    app = await startDemoApp(0);
    const port = await freePort();
    gwUrl = `http://127.0.0.1:${port}`;
    const cfg = loadConfig({
      env: {},
      object: {
        listen: `127.0.0.1:${port}`,
        publicUrl: gwUrl,
        upstream: app.url,
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
        session: { secret: TEST_SECRET },
        logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' },
      },
    });
    gw = await createGateway(cfg, { logger: createLogger(cfg.logging.level) });
    await gw.listen();
    await gw.discovered;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
    app?.server.close();
    await idp?.stop();
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
