import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_USERS } from '../../src/devidp/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

describe('session lifetimes, cookies and tokens', () => {
  const idp = useTestIdp({
    accessTokenTtl: 100_000,
    idTokenTtl: 3600,
    users: [
      ...DEFAULT_USERS,
      {
        sub: 'usr_dave',
        username: 'dave',
        email: 'dave@example.com',
        email_verified: false,
        name: 'Dave Unverified',
        groups: ['dev'],
        roles: [],
      },
    ],
  });

  async function withStack<T>(
    config: Record<string, unknown>,
    fn: (s: Stack, clock: ManualClock) => Promise<T>,
  ): Promise<T> {
    const clock = new ManualClock();
    const s = await startStack({ idpInstance: idp, clock, config: config as never });
    try {
      return await fn(s, clock);
    } finally {
      await s.close();
    }
  }

  it('enforces the absolute lifetime server-side', () =>
    withStack({ session: { maxAgeSeconds: 3600 } }, async (s, clock) => {
      const b = new TestBrowser();
      await login(s, b);
      clock.advance(3599_000);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 200);
      clock.advance(2000);
      const r = await b.request(`${s.url}/x`, { kind: 'api' });
      assert.equal(r.status, 401);
      assert.equal(r.json().error, 'session_expired');
    }));

  it('enforces the idle timeout and records activity without a write per request', () =>
    withStack({ session: { idleTimeoutSeconds: 600 } }, async (s, clock) => {
      const b = new TestBrowser();
      await login(s, b);
      let touches = 0;
      const touch = s.gw.store.touch.bind(s.gw.store);
      s.gw.store.touch = (...args) => {
        touches++;
        return touch(...args);
      };
      for (let i = 0; i < 50; i++) assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 200);
      assert.equal(touches, 0, 'no write for requests within the throttle interval');
      // active every 5 minutes for an hour: never idle for 10 minutes, so it stays alive
      for (let i = 0; i < 12; i++) {
        clock.advance(300_000);
        assert.equal(
          (await b.request(`${s.url}/x`, { kind: 'api' })).status,
          200,
          `after ${(i + 1) * 5} min`,
        );
      }
      assert.ok(touches >= 12 && touches <= 13, `one touch per active interval, got ${touches}`);
      clock.advance(601_000);
      assert.equal(
        (await b.request(`${s.url}/x`, { kind: 'api' })).status,
        401,
        'idle for 10 minutes: ended',
      );
    }));

  it('refuses email_verified: false unless configured otherwise', async () => {
    await withStack({}, async (s) => {
      const b = new TestBrowser();
      const hops = await login(s, b, { user: 'dave' });
      assert.equal(hops.at(-1)!.status, 403);
      assert.match(hops.at(-1)!.body, /not verified/);
    });
    await withStack({ authorization: { allowUnverifiedEmail: true } }, async (s) => {
      const hops = await login(s, new TestBrowser(), { user: 'dave' });
      assert.equal(hops.at(-1)!.status, 200);
    });
  });

  it('uses Secure __Host- cookies when publicUrl is https', async () => {
    // A gateway whose public URL is https (TLS terminated in front of it): cookie names and flags.
    const tls = await startStack({ idpInstance: idp, publicUrlOverride: 'https' });
    try {
      const r = await new TestBrowser().request(`${tls.url}/x`);
      const set = ([] as string[]).concat(r.headers['set-cookie'] as string[]);
      const loginCookie = set.find((c) => c.startsWith('__Host-gatehouse_login='));
      assert.ok(loginCookie, JSON.stringify(set));
      assert.match(loginCookie, /; Secure/);
      assert.match(loginCookie, /; Path=\//);
      assert.doesNotMatch(loginCookie, /Domain=/i);
      assert.match(loginCookie, /HttpOnly/);
      assert.match(loginCookie, /SameSite=Lax/);
    } finally {
      await tls.close();
    }
  });

  it('forwards the access token only when configured', () =>
    withStack({ headers: { passAccessToken: true, passAuthorizationHeader: true } }, async (s) => {
      const b = new TestBrowser();
      const hops = await login(s, b);
      const h = hops.at(-1)!.json<{ headers: Record<string, string> }>().headers;
      assert.match(h['x-forwarded-access-token'] ?? '', /^[A-Za-z0-9._~+/=-]{20,}$/);
      assert.equal(h.authorization, `Bearer ${h['x-forwarded-access-token']}`);
      // a client's own Authorization header does not win over the gateway's
      const r = await b.request(`${s.url}/x`, { kind: 'api', headers: { authorization: 'Bearer forged' } });
      assert.equal(
        r.json<{ headers: Record<string, string> }>().headers.authorization,
        `Bearer ${h['x-forwarded-access-token']}`,
      );
    }));

  it('keeps working after the IdP rotates its signing keys (JWKS re-fetched on an unknown kid)', () =>
    withStack({}, async (s) => {
      assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
      idp.rotateKeys();
      assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
    }));

  it('writes one JSON log line per request with request id, user, decision, status and duration', () =>
    withStack({}, async (s) => {
      const b = new TestBrowser();
      await login(s, b);
      await b.request(`${s.url}/logged`, { kind: 'api', headers: { 'x-request-id': 'req-abc-123' } });
      const line = s.logs.find((l) => l.reqId === 'req-abc-123' && l.msg === 'request');
      assert.ok(line);
      assert.equal(line.user, 'alice');
      assert.equal(line.decision, 'allow');
      assert.equal(line.status, 200);
      assert.equal(typeof line.ms, 'number');
      assert.equal(line.path, '/logged');
    }));
});
