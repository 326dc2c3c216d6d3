import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { DevIdp } from '../../src/devidp/index.js';
import { launchChromium } from '../helpers/chromium.js';
import { startHostsGateway } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';

/**
 * One sign-in across route hosts in a real headless Chromium, whose own cookie rules decide what
 * each host sees (docs/routes.md): every `*.gatehouse.test` name resolves to 127.0.0.1 through
 * `--host-resolver-rules`, so `grafana.gatehouse.test` and `admin.gatehouse.test` are two sites.
 */
describe('browser: one sign-in across route hosts (headless Chromium)', () => {
  let browser: Browser;
  let idp: DevIdp;
  let grafana: EchoUpstream;
  let admin: EchoUpstream;
  /** The gateway (and its dev IdP) of the running test; the next test's replaces it. */
  let started: Awaited<ReturnType<typeof startHostsGateway>> | undefined;

  before(async () => {
    browser = await launchChromium(['--host-resolver-rules=MAP *.gatehouse.test 127.0.0.1']);
    grafana = await startEchoUpstream();
    admin = await startEchoUpstream();
  });
  after(async () => {
    await browser?.close();
    await started?.close();
    await grafana.close();
    await admin.close();
  });

  async function gatewayWith(extra: Record<string, unknown>) {
    await started?.close();
    started = await startHostsGateway({
      upstream: grafana.url,
      config: {
        routes: [
          { host: 'grafana.gatehouse.test', upstream: grafana.url },
          { host: 'admin.gatehouse.test', upstream: admin.url },
        ],
        ...extra,
      },
    });
    idp = started.idp;
    const port = started.port;
    return { at: (host: string, path: string) => `http://${host}.gatehouse.test:${port}${path}` };
  }

  it('host-only cookies: the second host gets its own cookie through the ticket, with no second sign-in', async () => {
    const { at } = await gatewayWith({});
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(at('grafana', '/d/home'));
    const first = JSON.parse((await page.textContent('body')) ?? '{}');
    assert.equal(first.url, '/d/home');
    assert.equal(first.headers['x-forwarded-user'], 'alice');
    await page.goto(at('admin', '/reports'));
    assert.equal(
      new URL(page.url()).href,
      at('admin', '/reports'),
      'the ticket hop lands on the page asked for',
    );
    const second = JSON.parse((await page.textContent('body')) ?? '{}');
    assert.equal(second.headers['x-forwarded-user'], 'alice');
    assert.equal(idp.stats().grants.authorization_code, 1, 'one sign-in at the provider');
    const sessions = (await context.cookies()).filter((c) => c.name === 'gatehouse');
    assert.deepEqual(
      sessions.map((c) => c.domain).sort(),
      ['admin.gatehouse.test', 'auth.gatehouse.test', 'grafana.gatehouse.test'],
      'three host-only cookies, none for the whole domain',
    );
    await context.close();
  });

  it('session.cookieDomain: one cookie for the domain, the second host is served at once', async () => {
    const { at } = await gatewayWith({ session: { cookieDomain: '.gatehouse.test' } });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(at('grafana', '/'));
    const hops: string[] = [];
    page.on('request', (r) => hops.push(r.url()));
    await page.goto(at('admin', '/x'));
    assert.deepEqual(hops, [at('admin', '/x')], 'no redirect on the second host');
    assert.equal(JSON.parse((await page.textContent('body')) ?? '{}').headers['x-forwarded-user'], 'alice');
    const sessions = (await context.cookies()).filter((c) => c.name === 'gatehouse');
    assert.deepEqual(
      sessions.map((c) => c.domain),
      ['.gatehouse.test'],
    );
    await context.close();
  });
});
