import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

/** Every failed callback is a 4xx page with a reason, a request id and a manual "sign in again" link: never a redirect loop. */
function assertErrorPage(
  r: { status: number; location: string | undefined; body: string },
  status: number,
  reason: RegExp,
) {
  assert.equal(r.status, status, r.body.slice(0, 400));
  assert.equal(r.location, undefined, 'no redirect');
  assert.match(r.body, reason);
  assert.match(r.body, /Request id/);
  assert.match(r.body, /Sign in (again|as someone else)/);
}

describe('callback failures end on an error page, never in a loop', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  beforeEach(() => s.idp.setProfiles([]));
  after(() => s.close());

  const profiles: Array<[string, number, RegExp]> = [
    ['missing-id-token', 400, /could not be verified/],
    ['expired-id-token', 400, /could not be verified/],
    ['bad-signature', 400, /could not be verified/],
    ['wrong-audience', 400, /could not be verified/],
    ['wrong-issuer', 400, /could not be verified/],
    ['nonce-mismatch', 400, /could not be verified/],
    ['authorize-error', 403, /access_denied/],
  ];
  for (const [profile, status, reason] of profiles) {
    it(`${profile} → ${status} page`, async () => {
      s.idp.setProfiles([profile]);
      const b = new TestBrowser();
      const hops = await login(s, b, { path: '/app' });
      const last = hops.at(-1)!;
      assertErrorPage(last, status, reason);
      assert.ok(hops.length <= 3, `stopped after ${hops.length} hops`);
      assert.equal(b.cookie(s.url, 'gatehouse'), undefined, 'no session was created');
    });
  }

  it('a forged state is refused', async () => {
    const b = new TestBrowser();
    await b.request(`${s.url}/app`);
    const r = await b.request(`${s.url}/oauth2/callback?code=abc&state=forged-state-value`);
    assertErrorPage(r, 400, /expired or was already completed/);
  });

  it('a callback without state or code is refused', async () => {
    const r = await new TestBrowser().request(`${s.url}/oauth2/callback`);
    assertErrorPage(r, 400, /incomplete/);
  });

  it('a replayed code is refused (the state was consumed by the first use)', async () => {
    const b = new TestBrowser();
    const start = await b.request(`${s.url}/app`);
    const atIdp = await b.request(start.location!);
    const callbackUrl = atIdp.location!;
    const first = await b.request(callbackUrl);
    assert.equal(first.status, 302);
    const replay = await b.request(callbackUrl);
    assertErrorPage(replay, 400, /expired or was already completed/);
  });

  it('a replayed code with a fresh state is refused by the IdP (invalid_grant)', async () => {
    const b = new TestBrowser();
    const start1 = await b.request(`${s.url}/one`);
    const cb1 = new URL((await b.request(start1.location!)).location!);
    assert.equal((await b.request(cb1.href)).status, 302);
    const start2 = await b.request(`${s.url}/oauth2/start?rd=%2Ftwo&retry=1`);
    const state2 = new URL(start2.location!).searchParams.get('state')!;
    cb1.searchParams.set('state', state2);
    const r = await b.request(cb1.href);
    assertErrorPage(r, 400, /refused the sign-in code/);
  });

  it('a callback from another browser (no login cookie) is refused', async () => {
    const victim = new TestBrowser();
    const start = await victim.request(`${s.url}/app`);
    const cb = (await victim.request(start.location!)).location!;
    const attacker = new TestBrowser();
    const r = await attacker.request(cb);
    assertErrorPage(r, 400, /different browser/);
  });

  it('a leaked state used from another browser does not burn the real user’s flow', async () => {
    const victim = new TestBrowser();
    const start = await victim.request(`${s.url}/app`);
    const cb = (await victim.request(start.location!)).location!;
    // The attacker has a login cookie of its own (it started a sign-in), just not the victim's.
    const attacker = new TestBrowser();
    assert.equal((await attacker.request(`${s.url}/elsewhere`)).status, 302);
    assertErrorPage(await attacker.request(cb), 400, /different browser/);
    // The victim's flow is still there: the callback completes the sign-in.
    const done = await victim.request(cb);
    assert.equal(done.status, 302, done.body.slice(0, 300));
    assert.equal(done.location, '/app');
    assert.ok(victim.cookie(s.url, 'gatehouse'), 'the victim is signed in');
    assert.equal(attacker.cookie(s.url, 'gatehouse'), undefined, 'the attacker is not');
  });

  it('provider error text is shown only for a pending flow of this browser', async () => {
    const bait = 'Your account is locked. Call +1-555-0100 now';
    const crafted = (state: string | undefined) => {
      const u = new URL(`${s.url}/oauth2/callback`);
      u.searchParams.set('error', 'access_denied');
      u.searchParams.set('error_description', bait);
      if (state) u.searchParams.set('state', state);
      return u.href;
    };
    // The victim has a login cookie and a pending flow; the attacker has its own flow's state.
    const victim = new TestBrowser();
    const victimStart = await victim.request(`${s.url}/app`);
    const victimState = new URL(victimStart.location!).searchParams.get('state')!;
    const attacker = new TestBrowser();
    const attackerStart = await attacker.request(`${s.url}/app`);
    const attackerState = new URL(attackerStart.location!).searchParams.get('state')!;
    const logsBefore = s.logs.length;
    for (const [what, b, state] of [
      ['no state', victim, undefined],
      ['a forged state', victim, 'forged-state-value'],
      ['another browser’s state', victim, attackerState],
      ['no login cookie', new TestBrowser(), victimState],
    ] as const) {
      const r = await b.request(crafted(state));
      assertErrorPage(r, 400, /not recognised/);
      assert.doesNotMatch(r.body, /Call \+1-555|access_denied/, `${what}: no provider text on the page`);
    }
    const logged = JSON.stringify(s.logs.slice(logsBefore));
    assert.doesNotMatch(logged, /555-0100/, 'the attacker text is not logged as provider text either');
    // The victim's own flow was not burned by the crafted links: its real error is shown.
    const real = await victim.request(crafted(victimState));
    assertErrorPage(real, 403, /access_denied: Your account is locked/);
    // And the attacker's flow survived the link that named it from the victim's browser.
    const own = await attacker.request(crafted(attackerState));
    assertErrorPage(own, 403, /access_denied/);
  });

  it('the IdP unreachable at callback time gives a 502 page', async () => {
    const b = new TestBrowser();
    const start = await b.request(`${s.url}/app`);
    const cb = (await b.request(start.location!)).location!;
    s.idp.setProfiles(['token-endpoint-5xx']);
    const r = await b.request(cb);
    assertErrorPage(r, 502, /failed while completing/);
  });
});
