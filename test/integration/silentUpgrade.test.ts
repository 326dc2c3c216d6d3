import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { login, startStack } from '../helpers/stack.js';

/**
 * Sessions that upgrade themselves (issue 14 part 2): a session signed in without a refresh
 * token, while the gateway asks for offline access, gets one silent re-authorization
 * (prompt=none) on its next navigation. Here the dev IdP signs `alice` in by itself (auto-login),
 * so prompt=none succeeds unless a profile makes it fail; the suite below uses its login page and
 * SSO cookie instead.
 */
const TTL = 300; // dev IdP default access token lifetime, seconds
/** refresh.silentUpgradeIntervalSeconds in these tests: below TTL, so the old session is still valid. */
const INTERVAL = 60;

/** The gateway's gatehouse_silent_reauth_total counters, by result. */
async function silentReauth(s: { gw: { metrics: { registry: { metrics(): Promise<string> } } } }) {
  const text = await s.gw.metrics.registry.metrics();
  const count = (result: string) =>
    Number(new RegExp(`gatehouse_silent_reauth_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { ok: count('ok'), declined: count('declined'), error: count('error') };
}

describe('silent upgrade of sessions without a refresh token', () => {
  const idp = useTestIdp();
  beforeEach(() => {
    idp.setProfiles([]);
    idp.reset();
  });

  /** A stack with a browser signed in while the IdP issued no refresh token; then it issues them again. */
  async function sessionWithoutRefreshToken(config: Record<string, unknown> = {}) {
    const clock = new ManualClock();
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: {
        ...config,
        refresh: { silentUpgradeIntervalSeconds: INTERVAL, ...(config.refresh as object) },
      } as never,
    });
    const b = new TestBrowser();
    idp.setProfiles(['no-refresh-token']);
    const hops = await login(s, b);
    assert.equal(hops.at(-1)!.status, 200);
    // Right after a sign-in without a refresh token there is no attempt (it was one).
    assert.equal((await b.request(`${s.url}/just-signed-in`)).status, 200);
    idp.setProfiles([]);
    idp.reset();
    clock.advance(INTERVAL * 1000 + 1000);
    return { s, b, clock };
  }

  it('the next navigation re-authorizes with prompt=none, comes back to the same URL, and the session then refreshes', async () => {
    const { s, b, clock } = await sessionWithoutRefreshToken();
    try {
      const url = `${s.url}/reports/42?tab=open`;
      const host = new URL(s.url).host;
      const before = new Map(b.cookies(host));
      const hops = await b.follow(url);
      const authorize = new URL(hops[0]!.location!);
      assert.equal(hops[0]!.status, 302);
      assert.equal(`${authorize.origin}${authorize.pathname}`, `${idp.issuer}/authorize`);
      assert.equal(authorize.searchParams.get('prompt'), 'none');
      assert.equal(hops.at(-2)!.location, '/reports/42?tab=open', 'back to the same URL');
      assert.equal(hops.at(-1)!.status, 200);
      assert.equal(idp.stats().requests.authorize, 1);
      assert.deepEqual(await silentReauth(s), { ok: 1, declined: 0, error: 0 });
      // The old session is replaced, not kept next to the new one: its cookie no longer signs in.
      const old = new TestBrowser();
      for (const [name, value] of before) old.cookies(host).set(name, value);
      assert.equal((await old.request(url, { kind: 'api' })).status, 401);

      // The new session has a refresh token: past the access token's expiry it is refreshed, not ended.
      clock.advance(TTL * 1000 + 1000);
      const after = await b.request(url);
      assert.equal(after.status, 200);
      assert.equal(idp.stats().grants.refresh_token, 1);
      assert.equal(idp.stats().requests.authorize, 1, 'no further sign-in');
    } finally {
      await s.close();
    }
  });

  it('an API call never triggers it (and does not use up the attempt)', async () => {
    const { s, b } = await sessionWithoutRefreshToken();
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await b.request(`${s.url}/api/items`, { kind: 'api' })).status, 200);
      }
      assert.equal(idp.stats().requests.authorize, 0);
      const nav = await b.request(`${s.url}/`);
      assert.equal(nav.status, 302, 'the first navigation still upgrades');
      assert.match(nav.location ?? '', /prompt=none/);
    } finally {
      await s.close();
    }
  });

  it('an IdP that refuses the silent attempt: back on the original URL with the old session, no second attempt', async () => {
    const { s, b } = await sessionWithoutRefreshToken();
    try {
      idp.setProfiles(['authorize-error']);
      const url = `${s.url}/reports/7`;
      const hops = await b.follow(url);
      assert.match(hops[0]!.location ?? '', /prompt=none/);
      assert.equal(hops.at(-2)!.location, '/reports/7', 'back to the original URL, no error page');
      assert.equal(hops.at(-1)!.status, 200, 'served with the old session');
      assert.equal(idp.stats().requests.authorize, 1);
      assert.deepEqual(await silentReauth(s), { ok: 0, declined: 0, error: 1 });

      const again = await b.request(url);
      assert.equal(again.status, 200, 'the next navigation is served, not redirected');
      assert.equal(idp.stats().requests.authorize, 1, 'no second silent attempt (no loop)');
      assert.equal(idp.stats().grants.authorization_code, 0);
    } finally {
      await s.close();
    }
  });

  it('refresh.silentUpgrade: false → no attempt', async () => {
    const { s, b } = await sessionWithoutRefreshToken({ refresh: { silentUpgrade: false } });
    try {
      const r = await b.request(`${s.url}/reports/1`);
      assert.equal(r.status, 200);
      assert.equal(idp.stats().requests.authorize, 0);
    } finally {
      await s.close();
    }
  });
});

/**
 * The same against a dev IdP without auto-login: the user signs in on its login page, and
 * prompt=none succeeds only from the IdP's SSO session cookie in that browser.
 */
describe('silent upgrade against the dev IdP’s SSO session (no auto-login)', () => {
  const idp = useTestIdp({ autoLogin: undefined });
  beforeEach(() => {
    idp.setProfiles([]);
    idp.reset();
  });

  /** Signed in on the login page while the IdP issued no refresh token; then it issues them again. */
  async function sessionWithoutRefreshToken() {
    const clock = new ManualClock();
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: { refresh: { silentUpgradeIntervalSeconds: INTERVAL } } as never,
    });
    const b = new TestBrowser();
    idp.setProfiles(['no-refresh-token']);
    const toPage = await b.follow(`${s.url}/`);
    const page = toPage.at(-1)!;
    assert.equal(page.status, 200);
    const interaction = /name="interaction" value="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(interaction, 'the login page');
    const posted = await b.request(`${idp.issuer}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ interaction, user: 'alice' }).toString(),
    });
    assert.equal(posted.status, 302);
    const back = await b.follow(posted.location!);
    assert.equal(back.at(-1)!.status, 200, 'signed in');
    idp.setProfiles([]);
    idp.reset();
    clock.advance(INTERVAL * 1000 + 1000);
    return { s, b };
  }

  it('with the IdP’s SSO cookie in the browser, prompt=none upgrades the session', async () => {
    const { s, b } = await sessionWithoutRefreshToken();
    try {
      assert.ok(b.cookie(idp.issuer, 'gatehouse_devidp_sid'), 'the IdP set its SSO cookie');
      const hops = await b.follow(`${s.url}/reports/3`);
      assert.match(hops[0]!.location ?? '', /prompt=none/);
      assert.equal(hops.at(-2)!.location, '/reports/3');
      assert.equal(hops.at(-1)!.status, 200);
      assert.deepEqual(await silentReauth(s), { ok: 1, declined: 0, error: 0 });
      assert.equal(idp.stats().grants.authorization_code, 1);
    } finally {
      await s.close();
    }
  });

  it('without it (another browser session at the IdP): login_required → declined, old session kept, no loop', async () => {
    const { s, b } = await sessionWithoutRefreshToken();
    try {
      b.cookies(new URL(idp.issuer).host).delete('gatehouse_devidp_sid');
      const url = `${s.url}/reports/7?tab=open`;
      const hops = await b.follow(url);
      assert.match(hops[0]!.location ?? '', /prompt=none/);
      const callback = new URL(hops[1]!.location ?? '');
      assert.equal(callback.searchParams.get('error'), 'login_required', 'the IdP declined');
      assert.equal(hops.at(-2)!.location, '/reports/7?tab=open', 'back to the original URL, no login page');
      assert.equal(hops.at(-1)!.status, 200, 'served with the old session');
      assert.deepEqual(await silentReauth(s), { ok: 0, declined: 1, error: 0 });

      const again = await b.request(url);
      assert.equal(again.status, 200, 'the next navigation is served, not redirected');
      assert.equal(idp.stats().requests.authorize, 1, 'no second silent attempt (no loop)');
      assert.equal(idp.stats().grants.authorization_code, 0);
    } finally {
      await s.close();
    }
  });
});
