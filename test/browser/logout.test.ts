import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { startDemoApp } from '../../src/demo/upstreamApp.js';
import { launchChromium } from '../helpers/chromium.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { type GatewayUnderTest, startGateway } from '../helpers/stack.js';

/**
 * Logout is CSRF-safe (issue 8 item 9), in a real headless Chromium: pages on other origins
 * (another port of 127.0.0.1 — same-site, like a sibling subdomain — and 127.0.0.2, cross-site)
 * embed `<img src=/oauth2/logout>`, link to it and POST a form to it; none of that ends the
 * session. The app's own "Sign out" link and the confirmation page's button do.
 */

function attackerPage(gwUrl: string): string {
  const target = `${gwUrl}/oauth2/logout`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Totally unrelated site</title></head>
<body>
<h1>Cute cats</h1>
<img id="pixel" src="${target}" alt="">
<form method="post" action="${target}"><button type="submit">Claim your prize</button></form>
<p><a id="link" href="${target}">More cats</a></p>
</body></html>`;
}

function listen(server: Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve) =>
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port)),
  );
}

describe('browser: logout cannot be forced from another site (headless Chromium)', () => {
  const idp = useTestIdp({ autoLogin: undefined }); // the login page, as a person signs in
  let gateway: GatewayUnderTest;
  let gwUrl: string;
  let app: Awaited<ReturnType<typeof startDemoApp>>;
  let browser: Browser;
  const attackers: Server[] = [];
  /** The attacker's page on another port of the gateway's host: same-site, another origin. */
  let sameSiteUrl: string;
  /** The attacker's page on 127.0.0.2: another site. */
  let crossSiteUrl: string;
  /** The gateway's "logout not from this site" log lines so far. */
  const refusals = () => gateway.logs.filter((l) => String(l.msg).startsWith('logout not from this site'));

  before(async () => {
    app = await startDemoApp(0);
    gateway = await startGateway({
      issuer: idp.issuer,
      upstream: app.url,
      config: { logging: { level: 'info' } },
    });
    gwUrl = gateway.url;
    const page = attackerPage(gwUrl);
    const serve = () =>
      createServer((_req, res) => {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page);
      });
    const a = serve();
    const b = serve();
    attackers.push(a, b);
    const ap = await listen(a, '127.0.0.1');
    sameSiteUrl = `http://127.0.0.1:${ap}/`;
    crossSiteUrl = `http://127.0.0.2:${await listen(b, '127.0.0.2')}/`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
    app?.server.close();
    for (const a of attackers) a.close();
  });

  /** A fresh browser profile signed in as alice through the dev IdP's login page. */
  async function signedIn(): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${gwUrl}/`);
    assert.ok(page.url().startsWith(idp.issuer), `on the IdP login page, got ${page.url()}`);
    await page.getByRole('button', { name: /alice/i }).first().click();
    await page.waitForURL(`${gwUrl}/`);
    await assertSignedIn(page);
    return { ctx, page };
  }

  /** The protected page still answers 200 with alice's identity (not a redirect to the IdP). */
  async function assertSignedIn(page: Page): Promise<void> {
    const r = await page.goto(`${gwUrl}/`);
    assert.equal(r?.status(), 200);
    assert.equal(page.url(), `${gwUrl}/`, 'not sent to the IdP');
    assert.equal(await page.locator('code[data-header="x-forwarded-user"]').textContent(), 'alice');
  }

  async function assertSignedOut(page: Page): Promise<void> {
    const cookies = await page.context().cookies(gwUrl);
    assert.equal(
      cookies.find((c) => c.name === 'gatehouse'),
      undefined,
      'session cookie removed',
    );
    await page.goto(`${gwUrl}/`);
    assert.ok(page.url().startsWith(idp.issuer), `sent to sign in again, got ${page.url()}`);
  }

  it('an <img src=/oauth2/logout> on another origin (same-site port, and another site) does not end the session', async () => {
    const { ctx, page } = await signedIn();
    let expected = refusals().length;
    for (const url of [sameSiteUrl, crossSiteUrl]) {
      // Chromium's opaque-response blocking may turn the HTML answer into a failed image load:
      // wait for the request to settle either way.
      const isLogout = (r: Request) => r.url() === `${gwUrl}/oauth2/logout`;
      const settled = Promise.race([
        page.waitForEvent('requestfinished', isLogout),
        page.waitForEvent('requestfailed', isLogout),
      ]);
      await page.goto(url);
      await settled;
      await assertSignedIn(page);
      const seen = refusals().at(-1);
      assert.equal(refusals().length, ++expected, `${url}: the gateway saw the image request and refused it`);
      assert.equal(seen?.secFetchSite, url === sameSiteUrl ? 'same-site' : 'cross-site');
    }
    await ctx.close();
  });

  it('a form on another origin POSTed by a click does not end the session (403 confirmation page)', async () => {
    const { ctx, page } = await signedIn();
    for (const url of [sameSiteUrl, crossSiteUrl]) {
      await page.goto(url);
      const posted = page.waitForResponse(
        (r) => r.url() === `${gwUrl}/oauth2/logout` && r.request().method() === 'POST',
      );
      await page.getByRole('button', { name: 'Claim your prize' }).click();
      const r = await posted;
      assert.equal(r.status(), 403, url);
      await page.waitForURL(`${gwUrl}/oauth2/logout`);
      assert.match(await page.content(), /came from another site/);
      await assertSignedIn(page);
    }
    await ctx.close();
  });

  it('a link on another site leads to the confirmation page; its Sign out button ends the session', async () => {
    const { ctx, page } = await signedIn();
    await page.goto(crossSiteUrl);
    await page.locator('#link').click();
    await page.waitForURL(`${gwUrl}/oauth2/logout`);
    assert.match(await page.content(), /Sign out\?/);
    assert.equal(await page.locator('script').count(), 0);
    // still signed in: open the app in a second tab, keep the confirmation page
    const other = await ctx.newPage();
    await assertSignedIn(other);
    await other.close();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${gwUrl}/oauth2/signed-out`);
    assert.match(await page.content(), /You are signed out/);
    await assertSignedOut(page);
    await ctx.close();
  });

  it('the app\'s own "Sign out" link (a same-origin GET) ends the session', async () => {
    const { ctx, page } = await signedIn();
    assert.equal(await page.locator('#logout').getAttribute('href'), '/oauth2/logout');
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL(`${gwUrl}/oauth2/signed-out`);
    assert.match(await page.content(), /You are signed out/);
    await assertSignedOut(page);
    await ctx.close();
  });
});
