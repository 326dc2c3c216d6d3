import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDemoApp } from '../../src/demo/upstreamApp.js';
import { client, login, relyingParty } from '../devidp/helpers.js';
import { launchChromium } from '../helpers/chromium.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { type GatewayUnderTest, type StackConfig, startGateway } from '../helpers/stack.js';

/**
 * The dev IdP's live console in a real headless Chromium: it shows the profiles and users, draws
 * a family's timeline as the test logs in and refreshes, its toggles reach the admin API, and its
 * CSP stops a script from anywhere else. A screenshot of the console is left for a person to look at.
 */
describe('browser: dev IdP live console (headless Chromium)', () => {
  const idp = useTestIdp({ profiles: ['short-expiry'] });
  let browser: Browser;
  let page: Page;

  before(async () => {
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  });
  after(() => browser?.close());

  it('shows profiles and users, then a timeline with one refresh mark after a login and a refresh', async (t) => {
    await page.goto(`${idp.issuer}/__admin/`);
    await page.locator('#status.ok').waitFor();
    assert.equal(await page.locator('input[data-profile="short-expiry"]').isChecked(), true);
    assert.equal(await page.locator('input[data-profile="google"]').isChecked(), false);
    assert.equal(await page.locator('#active-profiles').textContent(), 'short-expiry');
    const users = await page.locator('#users').textContent();
    for (const name of ['alice', 'bob', 'carol']) assert.match(users ?? '', new RegExp(name));

    const rp = await relyingParty(idp);
    const tokens = await login(rp);
    await client.refreshTokenGrant(rp, tokens.refresh_token ?? '');

    const timeline = page.locator('.family svg.timeline').first();
    await timeline.locator('.mark.refresh').first().waitFor();
    assert.equal(await page.locator('.family').count(), 1);
    assert.equal(await timeline.locator('.mark.refresh').count(), 1, 'one refresh mark');
    assert.equal(
      await timeline.locator('rect.bar').count(),
      2,
      'two access tokens: the login and the refresh',
    );
    assert.match(
      (await page.locator('.family .counts').textContent()) ?? '',
      /refreshes 1 · rotations 1 · reuse detections 0 · active/,
    );
    const requests = (await page.locator('#requests').textContent()) ?? '';
    assert.match(requests, /refresh_token/);
    assert.match(requests, /authorization_code/);
    assert.ok(!requests.includes(tokens.access_token), 'no token in the page');

    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
    const shot = join(dir, 'console.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`live console screenshot: ${shot}`);
  });

  it('a profile checkbox and the fault form change the running IdP', async () => {
    await page.locator('input[data-profile="refresh-no-id-token"]').check();
    await page.locator('#active-profiles', { hasText: 'refresh-no-id-token' }).waitFor();
    assert.deepEqual(idp.profiles(), ['short-expiry', 'refresh-no-id-token']);
    await page.locator('input[data-profile="refresh-no-id-token"]').uncheck();
    await page.locator('#active-profiles', { hasText: /^short-expiry$/ }).waitFor();
    assert.deepEqual(idp.profiles(), ['short-expiry']);

    await page.locator('#fault-form select[name=endpoint]').selectOption('userinfo');
    await page.locator('#fault-form input[name=nth]').fill('2');
    await page.getByRole('button', { name: 'Add fault' }).click();
    await page.locator('#faults td', { hasText: 'userinfo' }).waitFor();
    const faults = (await (await fetch(`${idp.issuer}/__admin/faults`)).json()) as { rules: unknown[] };
    assert.deepEqual(faults.rules, [
      { endpoint: 'userinfo', kind: 'status', status: 503, nth: 2, fired: 0, spent: false },
    ]);
    await page.getByRole('button', { name: 'Clear faults' }).click();
    await page.locator('#faults td', { hasText: 'no faults installed' }).waitFor();
  });

  it("the page's CSP blocks a script from another origin", async () => {
    let fetched = 0;
    const server = createServer((_req, res) => {
      fetched++;
      res.writeHead(200, { 'content-type': 'text/javascript' }).end('window.__external = true;');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const src = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x.js`;
      // In the page (a string: this file is typed without the DOM library): add a foreign script.
      const violation = await page.evaluate(`new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
        const s = document.createElement('script');
        s.onload = () => resolve('loaded');
        s.onerror = () => resolve('failed to load');
        s.src = ${JSON.stringify(src)};
        document.head.append(s);
      })`);
      assert.equal(violation, 'script-src-elem');
      assert.equal(await page.evaluate('window.__external'), undefined);
      assert.equal(fetched, 0, 'the external script was never requested');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

/**
 * What `npm start` shows a person: the demo page through the gateway polls every second, tokens
 * expire, and the console's timeline gets one refresh per access token — each refresh presents
 * the refresh token issued just before it, none is presented twice.
 */
describe('browser: the live console watching the demo (headless Chromium)', () => {
  const idp = useTestIdp({ autoLogin: undefined, accessTokenTtl: 2, idTokenTtl: 2 });
  let gateway: GatewayUnderTest;
  let app: Awaited<ReturnType<typeof startDemoApp>>;
  let browser: Browser;

  before(async () => {
    app = await startDemoApp(0);
    gateway = await startGateway({
      issuer: idp.issuer,
      upstream: app.url,
      config: { logging: { level: process.env.GATEHOUSE_TEST_LOG ?? 'silent' } } as StackConfig,
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gateway?.close();
    app?.server.close();
  });

  it('each access token of the session is refreshed exactly once', async (t) => {
    const demo = await browser.newPage();
    await demo.goto(`${gateway.url}/`);
    await demo.getByRole('button', { name: /alice/i }).first().click();
    await demo.waitForURL(`${gateway.url}/`);
    const watch = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await watch.goto(`${idp.issuer}/__admin/`);
    // The demo page polls every second and tokens live 2 s: wait for three refreshes.
    await watch.locator('.family .mark.refresh').nth(2).waitFor({ timeout: 30_000 });
    const { families } = (await (await fetch(`${idp.issuer}/__admin/families`)).json()) as {
      families: {
        tokens: { grantType: string; refresh?: string; presented?: string }[];
        reuseDetections: number;
      }[];
    };
    assert.equal(families.length, 1, 'one login, one family');
    const [family] = families;
    assert.equal(family?.reuseDetections, 0);
    const tokens = family?.tokens ?? [];
    assert.equal(tokens[0]?.grantType, 'authorization_code');
    tokens.slice(1).forEach((tok, i) => {
      assert.equal(tok.grantType, 'refresh_token');
      assert.equal(
        tok.presented,
        tokens[i]?.refresh,
        `refresh ${i + 1} presents the refresh token issued before it`,
      );
    });
    const presented = tokens.slice(1).map((tok) => tok.presented);
    assert.equal(new Set(presented).size, presented.length, 'no refresh token presented twice');

    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-console-demo-'));
    const shot = join(dir, 'console-demo.png');
    await watch.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`live console (demo) screenshot: ${shot}`);
  });
});
