// Gatehouse against an IdP that rotated its signing key without overlap: the ID token names a
// kid the JWKS does not publish yet (dev IdP fault kind key-rotation, overlap false). A login
// then ends on an error page (never a 500, never a loop), each attempt asks the IdP for its
// JWKS at most once, and once the IdP publishes the key the next login works.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

describe('login while the IdP signs with a kid its JWKS lacks', () => {
  // A stack per test: each starts with a cold JWKS cache and a full forced-reload budget.
  let s: Stack;
  beforeEach(async () => {
    s = await startStack();
  });
  afterEach(async () => {
    mock.timers.reset();
    await s.close();
  });

  const rotateWithoutOverlap = async () => {
    const res = await fetch(`${s.idp.issuer}/__admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ rules: [{ endpoint: 'token', kind: 'key-rotation', overlap: false }] }),
    });
    assert.equal(res.status, 200, await res.text());
  };

  /** One login attempt: its last hop and how many JWKS requests the IdP saw during it. */
  const attempt = async () => {
    s.idp.reset();
    const b = new TestBrowser();
    const hops = await login(s, b, { path: '/app' });
    return { hops, last: hops.at(-1), jwks: s.idp.stats().requests.jwks, browser: b };
  };

  const assertRefused = (a: Awaited<ReturnType<typeof attempt>>) => {
    const last = a.last;
    assert.ok(last, 'a response');
    assert.ok(last.status >= 400 && last.status < 500, `status ${last.status}: ${last.body.slice(0, 300)}`);
    assert.equal(last.location, undefined, 'no redirect');
    assert.match(last.body, /could not be verified/);
    assert.match(last.body, /Request id/);
    assert.ok(a.hops.length <= 3, `stopped after ${a.hops.length} hops`);
    assert.equal(a.browser.cookie(s.url, 'gatehouse'), undefined, 'no session was created');
    assert.ok(a.jwks <= 1, `${a.jwks} JWKS requests in one attempt`);
  };

  it('is refused with an error page, one JWKS refetch per attempt; works once the key is published', async () => {
    const warm = await attempt();
    assert.equal(warm.last?.status, 200, 'a login before the rotation works');
    await rotateWithoutOverlap();
    const first = await attempt();
    assertRefused(first);
    assert.equal(first.jwks, 1, 'the unknown kid made Gatehouse refetch once');
    assertRefused(await attempt());
    assert.equal(s.idp.stats().faults.token.fired, 0, 'the rotation fired once, on the first attempt');
    // The IdP publishes the key (the rule is deleted): the next login refetches and works.
    await fetch(`${s.idp.issuer}/__admin/faults`, { method: 'DELETE' });
    const ok = await attempt();
    assert.equal(ok.last?.status, 200, ok.last?.body.slice(0, 300));
    assert.ok(ok.jwks <= 1, `${ok.jwks} JWKS requests`);
  });

  it("past jose's cooldown the attempt still fetches the JWKS once, not twice", async () => {
    const warm = await attempt();
    assert.equal(warm.last?.status, 200);
    await rotateWithoutOverlap();
    // The cached keys are older than jose's 30 s cooldown (but younger than its 10 min max age).
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 31_000 });
    const a = await attempt();
    assertRefused(a);
    assert.equal(a.jwks, 1);
  });
});
