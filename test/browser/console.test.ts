import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { client, login, relyingParty } from '../devidp/helpers.js';
import { launchChromium } from '../helpers/chromium.js';
import { useTestIdp } from '../helpers/devIdp.js';

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
    await page.waitForFunction('document.getElementById("active-profiles").textContent === "short-expiry"');
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
