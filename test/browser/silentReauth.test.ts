import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { launchChromium } from '../helpers/chromium.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { freePort } from '../helpers/ports.js';
import { type GatewayUnderTest, startGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * Sessions that renew themselves (issue 14 part 2), in a real headless Chromium against the dev
 * IdP's login page (no auto-login): only its SSO cookie lets `prompt=none` succeed.
 *
 * 1. A user signed in while the gateway did not ask for offline access; the operator turns it on
 *    (`provider.requestOfflineAccess`, a restart-only key: the gateway restarts on the same port
 *    with the sessions kept, as a Redis store keeps them) → the next navigation in the same tab
 *    silently gets a refresh token and lands on the same URL, no login page shown.
 * 2. An access token that expired without a refresh token: with the IdP's cookie the user lands
 *    back without a login page; with it cleared, the login page is shown exactly once.
 */
const TTL = 300; // the dev IdP's access-token lifetime, seconds
const INTERVAL = 60; // refresh.silentUpgradeIntervalSeconds here

describe('browser: silent re-authorization (headless Chromium, dev IdP login page)', () => {
  const idp = useTestIdp({ autoLogin: undefined });
  let browser: Browser;
  let upstream: EchoUpstream;
  const gateways: GatewayUnderTest[] = [];

  before(async () => {
    upstream = await startEchoUpstream();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const g of gateways) await g.close();
    await upstream?.close();
  });

  async function gateway(opts: {
    offline: boolean;
    clock: ManualClock;
    store: MemoryStore;
    port: number;
  }): Promise<GatewayUnderTest> {
    const g = await startGateway({
      issuer: idp.issuer,
      upstream: upstream.url,
      port: opts.port,
      clock: opts.clock,
      store: opts.store,
      config: {
        provider: { requestOfflineAccess: opts.offline },
        refresh: { silentUpgradeIntervalSeconds: INTERVAL },
        logging: { level: 'info' },
      } as never,
    });
    gateways.push(g);
    return g;
  }

  /**
   * Every document the tab loaded, in order (redirects included): its URL and status. The dev
   * IdP's login page is a 200 from its /authorize.
   */
  function recordNavigations(page: Page): Array<{ url: string; status: number }> {
    const seen: Array<{ url: string; status: number }> = [];
    page.on('response', (r) => {
      if (r.request().resourceType() === 'document' && r.frame() === page.mainFrame()) {
        seen.push({ url: r.url(), status: r.status() });
      }
    });
    return seen;
  }
  const isLoginPage = (n: { url: string; status: number }) =>
    n.url.startsWith(`${idp.issuer}/authorize`) && n.status === 200;
  const silentAuthorize = (n: { url: string }) =>
    n.url.startsWith(`${idp.issuer}/authorize`) && new URL(n.url).searchParams.get('prompt') === 'none';

  async function signInOnLoginPage(page: Page, url: string): Promise<void> {
    await page.goto(url);
    assert.ok(page.url().startsWith(idp.issuer), `on the IdP login page, got ${page.url()}`);
    await page.getByRole('button', { name: /alice/i }).first().click();
    await page.waitForURL(url);
  }

  /** The upstream's echo: served (not the IdP), as alice. */
  async function assertServedAsAlice(page: Page, url: string): Promise<void> {
    assert.equal(page.url(), url, 'on the same URL');
    const echo = JSON.parse((await page.locator('body').textContent()) ?? '{}') as {
      headers?: Record<string, string>;
    };
    assert.equal(echo.headers?.['x-forwarded-user'], 'alice');
  }

  async function metric(g: GatewayUnderTest, name: string, labels: string): Promise<number> {
    const text = await g.gw.metrics.registry.metrics();
    let n = 0;
    for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)$`, 'gm'))) {
      if (labels.split(',').every((l) => m[1]!.includes(l))) n += Number(m[2]);
    }
    return n;
  }

  it('offline access turned on: the next navigation silently gets a refresh token, same URL, no login page', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ maxSessions: 1000, clock });
    const port = await freePort();
    const before = await gateway({ offline: false, clock, store, port });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await signInOnLoginPage(page, `${before.url}/`);
    assert.equal(await metric(before, 'gatehouse_sessions', 'refresh="none"'), 1, 'signed in without one');
    await before.close();

    // The operator asks for offline access; the sessions outlive the restart.
    const after = await gateway({ offline: true, clock, store, port });
    clock.advance(INTERVAL * 1000 + 1000);
    const seen = recordNavigations(page);
    const url = `${after.url}/reports/42?tab=open`;
    const r = await page.goto(url);
    assert.equal(r?.status(), 200);
    await assertServedAsAlice(page, url);
    assert.ok(seen.some(silentAuthorize), `a prompt=none round trip: ${JSON.stringify(seen)}`);
    assert.ok(!seen.some(isLoginPage), 'no login page');
    assert.equal(await metric(after, 'gatehouse_silent_reauth_total', 'result="ok",reason="upgrade"'), 1);
    assert.equal(await metric(after, 'gatehouse_sessions', 'refresh="ok"'), 1);
    assert.equal(await metric(after, 'gatehouse_sessions', 'refresh="none"'), 0);

    // It has a refresh token now: past the access token's expiry it is refreshed, no IdP page.
    const grants = idp.stats().grants.refresh_token ?? 0;
    clock.advance(TTL * 1000 + 1000);
    seen.length = 0;
    assert.equal((await page.goto(url))?.status(), 200);
    await assertServedAsAlice(page, url);
    assert.deepEqual(
      seen.map((n) => n.url),
      [url],
      'served directly',
    );
    assert.equal(idp.stats().grants.refresh_token, grants + 1);
    await ctx.close();
    await after.close();
  });

  it('an access token expired without a refresh token: silently renewed with the IdP cookie; without it, the login page once', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ maxSessions: 1000, clock });
    const g = await gateway({ offline: false, clock, store, port: await freePort() });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await signInOnLoginPage(page, `${g.url}/`);

    // Expired, the IdP's SSO cookie still in the browser: back on the same URL, no login page.
    clock.advance(TTL * 1000 + 1000);
    const seen = recordNavigations(page);
    const url = `${g.url}/reports/9?tab=open`;
    assert.equal((await page.goto(url))?.status(), 200);
    await assertServedAsAlice(page, url);
    assert.ok(seen.some(silentAuthorize), `a prompt=none round trip: ${JSON.stringify(seen)}`);
    assert.ok(!seen.some(isLoginPage), 'no login page');
    assert.equal(await metric(g, 'gatehouse_silent_reauth_total', 'result="ok",reason="expired"'), 1);

    // Expired again, and the IdP session is gone from the browser: the login page, exactly once.
    clock.advance(TTL * 1000 + 1000);
    await ctx.clearCookies({ domain: new URL(idp.issuer).hostname, name: 'gatehouse_devidp_sid' });
    assert.ok(
      (await ctx.cookies(g.url)).some((c) => c.name === 'gatehouse'),
      'the gateway session cookie stays',
    );
    seen.length = 0;
    const url2 = `${g.url}/reports/10`;
    const r = await page.goto(url2);
    assert.equal(r?.status(), 200);
    assert.ok(page.url().startsWith(`${idp.issuer}/authorize`), `on the login page, got ${page.url()}`);
    await page.getByRole('button', { name: /alice/i }).first().waitFor();
    assert.equal(seen.filter(isLoginPage).length, 1, `the login page once: ${JSON.stringify(seen)}`);
    assert.equal(seen.filter(silentAuthorize).length, 1, 'after one silent attempt');
    assert.equal(await metric(g, 'gatehouse_silent_reauth_total', 'result="declined",reason="expired"'), 1);
    // Signing in there lands on the URL asked for.
    await page.getByRole('button', { name: /alice/i }).first().click();
    await page.waitForURL(url2);
    await assertServedAsAlice(page, url2);
    assert.equal(seen.filter(isLoginPage).length, 1);
    await ctx.close();
    await g.close();
  });
});
