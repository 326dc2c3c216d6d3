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

type Metered = { gw: { metrics: { registry: { metrics(): Promise<string> } } } };

/** The gateway's gatehouse_silent_reauth_total counters of one reason (upgrade, expired), by result. */
async function silentReauth(s: Metered, reason: 'upgrade' | 'expired' = 'upgrade') {
  const text = await s.gw.metrics.registry.metrics();
  const count = (result: string) => {
    let n = 0;
    for (const m of text.matchAll(/^gatehouse_silent_reauth_total\{([^}]*)\} (\d+)$/gm)) {
      const labels = m[1]!;
      if (labels.includes(`result="${result}"`) && labels.includes(`reason="${reason}"`)) n += Number(m[2]);
    }
    return n;
  };
  return { ok: count('ok'), declined: count('declined'), error: count('error') };
}

/** The gateway's gatehouse_sessions gauge, by refresh. */
async function sessionGauge(s: Metered) {
  const text = await s.gw.metrics.registry.metrics();
  const value = (refresh: string) => {
    const m = new RegExp(`^gatehouse_sessions\\{refresh="${refresh}"\\} (\\d+)$`, 'm').exec(text);
    assert.ok(m, `gatehouse_sessions{refresh="${refresh}"} is exported`);
    return Number(m[1]);
  };
  return { none: value('none'), ok: value('ok') };
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

  it('gatehouse_sessions{refresh} counts the sessions without and with a refresh token, at scrape time', async () => {
    const { s, b } = await sessionWithoutRefreshToken();
    try {
      assert.deepEqual(await sessionGauge(s), { none: 1, ok: 0 });
      const other = new TestBrowser();
      assert.equal((await login(s, other)).at(-1)!.status, 200, 'a second user, now with a refresh token');
      assert.deepEqual(await sessionGauge(s), { none: 1, ok: 1 });
      // The upgrade replaces the first session: one record, now with a refresh token.
      assert.equal((await b.follow(`${s.url}/page`)).at(-1)!.status, 200);
      assert.deepEqual(await silentReauth(s), { ok: 1, declined: 0, error: 0 });
      assert.deepEqual(await sessionGauge(s), { none: 0, ok: 2 });
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

/**
 * A session whose access token expired without a refresh token (issue 14 part 2, second half):
 * a navigation tries one silent re-authorization before any login page; API calls keep getting
 * 401 and do not use up that attempt. Against the dev IdP's login page and SSO cookie.
 */
describe('an expired session without a refresh token re-authorizes silently before the login page', () => {
  const idp = useTestIdp({ autoLogin: undefined });
  beforeEach(() => {
    idp.setProfiles([]);
    idp.reset();
  });

  /** Signed in on the login page without a refresh token; then the access token expires. */
  async function expiredSession(interval = INTERVAL) {
    const clock = new ManualClock();
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: { refresh: { silentUpgradeIntervalSeconds: interval } } as never,
    });
    const b = new TestBrowser();
    idp.setProfiles(['no-refresh-token']);
    const toPage = await b.follow(`${s.url}/`);
    const interaction = /name="interaction" value="([^"]+)"/.exec(toPage.at(-1)!.body)?.[1];
    assert.ok(interaction, 'the login page');
    const posted = await b.request(`${idp.issuer}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ interaction, user: 'alice' }).toString(),
    });
    const back = await b.follow(posted.location!);
    assert.equal(back.at(-1)!.status, 200, 'signed in');
    idp.setProfiles([]);
    idp.reset();
    clock.advance(TTL * 1000 + 1000);
    return { s, b, clock, host: new URL(s.url).host };
  }

  /** Is this reply the dev IdP's login page? */
  const loginPage = (r: { status: number; body: string }) =>
    r.status === 200 && r.body.includes('name="interaction"');

  it('with the IdP’s SSO cookie: prompt=none renews it and the user lands on the same URL, no login page', async () => {
    const { s, b, host } = await expiredSession();
    try {
      const before = new Map(b.cookies(host));
      const hops = await b.follow(`${s.url}/reports/9?tab=open`);
      assert.match(hops[0]!.location ?? '', /prompt=none/, 'a silent attempt, not the login page');
      assert.equal(hops.at(-2)!.location, '/reports/9?tab=open', 'back to the same URL');
      assert.equal(hops.at(-1)!.status, 200);
      assert.ok(!hops.some(loginPage), 'no login page');
      assert.deepEqual(await silentReauth(s, 'expired'), { ok: 1, declined: 0, error: 0 });
      assert.deepEqual(await silentReauth(s, 'upgrade'), { ok: 0, declined: 0, error: 0 });
      assert.equal(idp.stats().requests.authorize, 1);
      // The expired session is replaced: its cookie no longer signs in.
      const old = new TestBrowser();
      for (const [name, value] of before) old.cookies(host).set(name, value);
      assert.equal((await old.request(`${s.url}/api/x`, { kind: 'api' })).status, 401);
      assert.equal((await b.request(`${s.url}/api/x`, { kind: 'api' })).status, 200, 'the new one does');
    } finally {
      await s.close();
    }
  });

  it('without it: login_required → the login page at once, exactly once, and no loop afterwards', async () => {
    const { s, b } = await expiredSession();
    try {
      b.cookies(new URL(idp.issuer).host).delete('gatehouse_devidp_sid');
      const hops = await b.follow(`${s.url}/reports/7`);
      assert.match(hops[0]!.location ?? '', /prompt=none/);
      assert.equal(new URL(hops[1]!.location!).searchParams.get('error'), 'login_required');
      const authorize = new URL(hops[2]!.location!);
      assert.equal(
        `${authorize.origin}${authorize.pathname}`,
        `${idp.issuer}/authorize`,
        'straight to sign-in',
      );
      assert.equal(authorize.searchParams.get('prompt'), null, 'the interactive one');
      assert.ok(loginPage(hops.at(-1)!), 'the login page');
      assert.equal(hops.filter(loginPage).length, 1);
      assert.equal(hops.length, 4, 'gateway → IdP → callback → IdP login page');
      assert.deepEqual(await silentReauth(s, 'expired'), { ok: 0, declined: 1, error: 0 });

      // The user leaves the login page and navigates again: a normal sign-in, no second silent attempt.
      const again = await b.follow(`${s.url}/reports/7`);
      assert.equal(new URL(again[0]!.location!).searchParams.get('prompt'), null);
      assert.ok(loginPage(again.at(-1)!));
      assert.equal(idp.stats().requests.authorize, 3);
      assert.deepEqual(await silentReauth(s, 'expired'), { ok: 0, declined: 1, error: 0 });

      // Signing in on that page lands on the URL asked for.
      const interaction = /name="interaction" value="([^"]+)"/.exec(again.at(-1)!.body)![1]!;
      const posted = await b.request(`${idp.issuer}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ interaction, user: 'alice' }).toString(),
      });
      const landed = await b.follow(posted.location!);
      assert.equal(landed.at(-2)!.location, '/reports/7');
      assert.equal(landed.at(-1)!.status, 200);
    } finally {
      await s.close();
    }
  });

  it('API calls get 401 JSON (never a redirect) and keep the session for the next navigation’s attempt', async () => {
    const { s, b, host } = await expiredSession();
    try {
      const before = new Map(b.cookies(host));
      for (let i = 0; i < 2; i++) {
        const r = await b.request(`${s.url}/api/items`, { kind: 'api' });
        assert.equal(r.status, 401);
        assert.equal(r.location, undefined);
        assert.equal(r.json().error, 'session_expired');
      }
      assert.deepEqual(new Map(b.cookies(host)), before, 'the session cookie is kept');
      assert.equal(idp.stats().requests.authorize, 0);
      const hops = await b.follow(`${s.url}/app`);
      assert.match(hops[0]!.location ?? '', /prompt=none/, 'the navigation still tries silently');
      assert.equal(hops.at(-1)!.status, 200);
      assert.deepEqual(await silentReauth(s, 'expired'), { ok: 1, declined: 0, error: 0 });
    } finally {
      await s.close();
    }
  });

  it('at most one attempt per refresh.silentUpgradeIntervalSeconds: an abandoned attempt is not repeated', async () => {
    const { s, b, clock } = await expiredSession(3600);
    try {
      const first = await b.request(`${s.url}/reports/1`);
      assert.equal(first.status, 302);
      assert.match(first.location ?? '', /prompt=none/);
      // That redirect is never followed (tab closed, IdP slow); the next navigation signs in normally.
      clock.advance(60_000);
      const second = await b.request(`${s.url}/reports/1`);
      assert.equal(second.status, 302);
      const authorize = new URL(second.location!);
      assert.equal(`${authorize.origin}${authorize.pathname}`, `${idp.issuer}/authorize`);
      assert.equal(authorize.searchParams.get('prompt'), null, 'no second silent attempt');
    } finally {
      await s.close();
    }
  });

  it('refresh.silentUpgrade: false → the expired session signs in normally, as before', async () => {
    const clock = new ManualClock();
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: { refresh: { silentUpgrade: false } } as never,
    });
    try {
      const b = new TestBrowser();
      const toPage = await b.follow(`${s.url}/`);
      const interaction = /name="interaction" value="([^"]+)"/.exec(toPage.at(-1)!.body)![1]!;
      idp.setProfiles(['no-refresh-token']);
      const posted = await b.request(`${idp.issuer}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ interaction, user: 'alice' }).toString(),
      });
      assert.equal((await b.follow(posted.location!)).at(-1)!.status, 200);
      clock.advance(TTL * 1000 + 1000);
      const r = await b.request(`${s.url}/reports/1`);
      assert.equal(new URL(r.location!).searchParams.get('prompt'), null);
    } finally {
      await s.close();
    }
  });
});
