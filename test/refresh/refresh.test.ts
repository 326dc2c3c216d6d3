import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { IssuedTokens } from '../../src/devidp/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { login, startStack } from '../helpers/stack.js';

/**
 * Refresh against the dev IdP with rotation and reuse detection on (its default): a duplicate
 * grant would revoke the token family and the session would die, so these tests would see it.
 * The gateway's clock is driven (ManualClock); the IdP keeps real time, which is fine because
 * refresh tokens live a day there and only the gateway decides when an access token is stale.
 */
const TTL = 300; // dev IdP default access token lifetime, seconds

type Echo = { headers: Record<string, string> };

const TOKEN_KINDS = ['access', 'refresh', 'ID'];
/** Long enough that a chance match is impossible, short enough to catch a truncated token. */
const FRAGMENT = 16;

/** Neither `secret` nor any FRAGMENT-character piece of it stands in `text`. */
function assertNotIn(text: string, secret: string | undefined, what: string): void {
  assert.ok(secret !== undefined && secret.length >= FRAGMENT, `${what}: expected a token`);
  for (let at = 0; at + FRAGMENT <= secret.length; at++) {
    const piece = secret.slice(at, at + FRAGMENT);
    assert.ok(!text.includes(piece), `${what} is in the logs: ${JSON.stringify(piece)} at offset ${at}`);
  }
}

describe('refresh', () => {
  const idp = useTestIdp({ tokenDelayMs: 1500 });
  beforeEach(() => {
    idp.setProfiles([]);
    idp.reset();
  });

  async function stack(config: Record<string, unknown> = {}) {
    const clock = new ManualClock();
    const s = await startStack({ idpInstance: idp, clock, config: config as never });
    const b = new TestBrowser();
    const hops = await login(s, b);
    assert.equal(hops.at(-1)!.status, 200);
    idp.reset();
    return { s, b, clock };
  }

  function grants() {
    return idp.stats().grants.refresh_token;
  }
  function invalidGrants() {
    return idp.stats().errors.invalid_grant ?? 0;
  }

  it('herd: 200 concurrent requests at expiry → one grant, 200 × 200, twice in a row', async () => {
    const { s, b, clock } = await stack();
    try {
      for (const cycle of [1, 2]) {
        clock.advance(TTL * 1000 + 1000);
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            b.request(`${s.url}/panel/${i}`, { kind: i % 2 ? 'api' : 'navigate' }),
          ),
        );
        const statuses = results.map((r) => r.status);
        assert.deepEqual(statuses, Array(200).fill(200), `cycle ${cycle}`);
        assert.equal(grants(), cycle, `cycle ${cycle}: exactly one refresh grant per expiry`);
        assert.equal(invalidGrants(), 0);
        assert.equal(s.gw.refresh.pending, 0, 'the in-flight map is empty when idle');
      }
      assert.equal((await b.request(`${s.url}/still-valid`, { kind: 'api' })).status, 200);
      // the counters are exported for Prometheus (on the metrics listener, never the public port)
      const metrics = await s.gw.metrics.registry.metrics();
      assert.match(metrics, /gatehouse_refresh_total\{result="ok"\} 2/);
      const coalesced = Number(/gatehouse_refresh_coalesced_total (\d+)/.exec(metrics)?.[1]);
      // (requests that arrive after the grant find a fresh token and need no coalescing)
      assert.ok(coalesced >= 2, `followers coalesced: ${coalesced}`);
      assert.match(metrics, /gatehouse_idp_token_seconds_count\{grant="refresh_token"\} 2/);
      // each grant used a refresh token one access-token lifetime old (it rotated at the first)
      assert.match(metrics, /gatehouse_refresh_token_age_seconds_count\{result="ok"\} 2/);
      assert.match(metrics, /gatehouse_refresh_token_age_seconds_bucket\{le="300",result="ok"\} 0/);
      assert.match(metrics, /gatehouse_refresh_token_age_seconds_bucket\{le="900",result="ok"\} 2/);
      assert.doesNotMatch(metrics, /gatehouse_refresh_failures_total\{/);
    } finally {
      await s.close();
    }
  });

  it('refreshes in the background inside the grace window without delaying requests', async () => {
    const { s, b, clock } = await stack({ refresh: { graceSeconds: 60 } });
    try {
      idp.setProfiles(['token-endpoint-slow']); // each grant takes 1.5 s
      clock.advance((TTL - 30) * 1000); // inside the 60 s window (capped at 25 % of 300 s = 75 s)
      const results = await Promise.all(
        Array.from({ length: 20 }, () => b.request(`${s.url}/bg`, { kind: 'api' })),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(20).fill(200),
      );
      assert.equal(grants(), 0, 'answered before the slow grant completed');
      assert.equal(s.gw.refresh.pending, 1, 'one background refresh in flight');
      await s.gw.refresh.settled();
      assert.equal(grants(), 1);
      clock.advance(60_000); // past the old expiry: the new token is fresh, no further grant
      assert.equal((await b.request(`${s.url}/bg`, { kind: 'api' })).status, 200);
      assert.equal(grants(), 1);
    } finally {
      await s.close();
    }
  });

  it('refresh-invalid-grant: the session is evicted; navigation → IdP, API → 401 JSON', async () => {
    const { s, b, clock } = await stack();
    try {
      idp.setProfiles(['refresh-invalid-grant']);
      clock.advance(TTL * 1000 + 1000);
      const api = await b.request(`${s.url}/api`, { kind: 'api' });
      assert.equal(api.status, 401);
      assert.match(String(api.headers['www-authenticate']), /gatehouse/);
      assert.equal(api.json().error, 'session_expired');
      const line = s.logs.find((l) => String(l.msg).startsWith('failed to renew OIDC token: invalid_grant'));
      assert.ok(line, 'terminal failure logged');
      assert.equal(line.class, 'terminal');
      const metrics = await s.gw.metrics.registry.metrics();
      assert.match(metrics, /gatehouse_refresh_failures_total\{class="terminal",error="invalid_grant"\} 1/);
      assert.match(metrics, /gatehouse_refresh_token_age_seconds_count\{result="terminal"\} 1/);
      assert.ok(
        typeof line.session === 'string' && (line.session as string).length <= 12,
        'hashed session id prefix only',
      );
      idp.setProfiles([]);
      const nav = await b.request(`${s.url}/page`);
      assert.equal(
        nav.status,
        302,
        'evicted for good: even with the IdP healthy again, a new login is needed',
      );
      assert.ok(nav.location!.startsWith(`${idp.issuer}/authorize`));
    } finally {
      await s.close();
    }
  });

  it('token-endpoint-5xx: no logout; served within the outage grace, 503 after; recovers when the IdP does', async () => {
    const { s, b, clock } = await stack({ refresh: { outageGraceSeconds: 120, retryBackoffSeconds: 5 } });
    try {
      idp.setProfiles(['token-endpoint-5xx']);
      clock.advance(TTL * 1000 + 1000);
      const during = await Promise.all(
        Array.from({ length: 20 }, () => b.request(`${s.url}/x`, { kind: 'api' })),
      );
      assert.deepEqual(
        during.map((r) => r.status),
        Array(20).fill(200),
      );
      assert.equal(idp.stats().errors.temporarily_unavailable, 1, 'one attempt, then back-off');
      assert.match(
        await s.gw.metrics.registry.metrics(),
        /gatehouse_refresh_failures_total\{class="transient",error="http_503"\} 1/,
      );
      clock.advance(120_000); // past the outage grace
      const late = await b.request(`${s.url}/x`, { kind: 'api' });
      assert.equal(late.status, 503);
      assert.ok(Number(late.headers['retry-after']) >= 1);
      const page = await b.request(`${s.url}/x`);
      assert.equal(page.status, 503);
      assert.match(page.body, /temporarily unavailable/i);
      idp.setProfiles([]);
      clock.advance(6000); // past the back-off
      const back = await b.request(`${s.url}/x`, { kind: 'api' });
      assert.equal(back.status, 200, 'the same session works again, no new login');
      assert.equal(grants(), 1);
    } finally {
      await s.close();
    }
  });

  it('userinfo failing right after a rotating grant: the new tokens are kept (identity unchanged), the next refresh works', async () => {
    const { s, b, clock } = await stack({ provider: { useUserinfo: true } });
    try {
      idp.setProfiles(['userinfo-5xx']);
      clock.advance(TTL * 1000 + 1000);
      const r = await b.request(`${s.url}/x`, { kind: 'api' });
      assert.equal(r.status, 200);
      assert.equal(r.json<Echo>().headers['x-forwarded-user'], 'alice', 'the identity it had');
      assert.equal(grants(), 1);
      assert.ok(s.logs.some((l) => String(l.msg).includes('identity could not be re-read')));
      idp.setProfiles([]);
      clock.advance(TTL * 1000 + 1000);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 200);
      assert.equal(grants(), 2);
      assert.equal(invalidGrants(), 0, 'the rotated refresh token was stored, not lost');
    } finally {
      await s.close();
    }
  });

  it('token-endpoint-slow beyond the timeout: requests are answered, the late grant is still adopted', async () => {
    const { s, b, clock } = await stack({ refresh: { timeoutSeconds: 0.2, outageGraceSeconds: 60 } });
    try {
      idp.setProfiles(['token-endpoint-slow']);
      clock.advance(TTL * 1000 + 1000);
      const r = await b.request(`${s.url}/slow`, { kind: 'api' });
      assert.equal(r.status, 200, 'served within the outage grace while the grant is slow');
      assert.equal(grants(), 0);
      await s.gw.refresh.settled();
      assert.equal(grants(), 1, 'the slow grant completed and was stored');
      idp.setProfiles([]);
      const after = await b.request(`${s.url}/slow`, { kind: 'api' });
      assert.equal(after.status, 200);
      assert.equal(grants(), 1, 'no second grant: the late result was adopted');
      assert.equal(invalidGrants(), 0);
    } finally {
      await s.close();
    }
  });

  it('token-endpoint-slow past the outage grace answers 503, then recovers', async () => {
    const { s, b, clock } = await stack({ refresh: { timeoutSeconds: 0.2, outageGraceSeconds: 10 } });
    try {
      idp.setProfiles(['token-endpoint-slow']);
      clock.advance(TTL * 1000 + 11_000);
      const r = await b.request(`${s.url}/slow`, { kind: 'api' });
      assert.equal(r.status, 503);
      await s.gw.refresh.settled();
      idp.setProfiles([]);
      assert.equal((await b.request(`${s.url}/slow`, { kind: 'api' })).status, 200);
      assert.equal(grants(), 1);
    } finally {
      await s.close();
    }
  });

  for (const profile of ['refresh-reuses-token', 'refresh-no-token-in-response']) {
    it(`${profile}: every expiry refreshes once and the session survives`, async () => {
      const { s, b, clock } = await stack();
      try {
        idp.setProfiles([profile]);
        for (const cycle of [1, 2, 3]) {
          clock.advance(TTL * 1000 + 1000);
          const rs = await Promise.all(
            Array.from({ length: 10 }, () => b.request(`${s.url}/c`, { kind: 'api' })),
          );
          assert.deepEqual(
            rs.map((r) => r.status),
            Array(10).fill(200),
          );
          assert.equal(grants(), cycle);
        }
      } finally {
        await s.close();
      }
    });
  }

  it('refresh-loses-group: the new identity is forwarded and re-authorized', async () => {
    const { s, b, clock } = await stack({
      authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
    });
    try {
      assert.equal((await b.request(`${s.url}/admin`, { kind: 'api' })).status, 200);
      idp.setProfiles(['refresh-loses-group']);
      clock.advance(TTL * 1000 + 1000);
      const denied = await b.request(`${s.url}/admin`, { kind: 'api' });
      assert.equal(denied.status, 403);
      const other = await b.request(`${s.url}/home`, { kind: 'api' });
      assert.equal(other.status, 200);
      assert.equal(other.json<Echo>().headers['x-forwarded-groups'], 'dev');
    } finally {
      await s.close();
    }
  });

  it('no-refresh-token: one clear warning at login; at expiry navigation → login, API → 401', async () => {
    idp.setProfiles(['no-refresh-token']);
    const { s, b, clock } = await stack();
    try {
      const warn = s.logs.filter((l) => String(l.msg).includes('issued no refresh token'));
      assert.equal(warn.length, 1);
      assert.match(String(warn[0]!.msg), /offline_access/);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 200);
      clock.advance(TTL * 1000 + 1000);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 401);
      assert.equal(grants(), 0, 'no refresh attempted without a refresh token');
    } finally {
      await s.close();
    }
  });

  it('google preset: access_type=offline + prompt=consent, never offline_access; refresh works', async () => {
    idp.setProfiles(['google']);
    const { s, b, clock } = await stack({ provider: { preset: 'google' } });
    try {
      const start = await new TestBrowser().request(`${s.url}/g`);
      const q = new URL(start.location!).searchParams;
      assert.equal(q.get('access_type'), 'offline');
      assert.equal(q.get('prompt'), 'consent');
      assert.ok(!q.get('scope')!.split(' ').includes('offline_access'));
      clock.advance(TTL * 1000 + 1000);
      assert.equal((await b.request(`${s.url}/g`, { kind: 'api' })).status, 200);
      assert.equal(grants(), 1);
    } finally {
      await s.close();
    }
  });

  it('google without the preset: offline_access is not sent (not in scopes_supported), and the missing refresh token is explained', async () => {
    idp.setProfiles(['google']);
    const { s } = await stack();
    try {
      const start = await new TestBrowser().request(`${s.url}/g`);
      assert.ok(!new URL(start.location!).searchParams.get('scope')!.split(' ').includes('offline_access'));
      const warn = s.logs.find((l) => String(l.msg).includes('issued no refresh token'));
      assert.ok(warn, 'warned at login');
    } finally {
      await s.close();
    }
  });

  it('maxRefreshTokenAgeSeconds: a refresh token older than the limit ends the session', async () => {
    const { s, b, clock } = await stack({ refresh: { maxRefreshTokenAgeSeconds: 200 } });
    try {
      clock.advance(TTL * 1000 + 1000);
      const r = await b.request(`${s.url}/old`, { kind: 'api' });
      assert.equal(r.status, 401);
      assert.equal(grants(), 0);
    } finally {
      await s.close();
    }
  });

  it('never logs a token', async () => {
    // The values the IdP really issued, at login and at the refresh: an opaque refresh token has
    // no shape a pattern could find, so the logs are searched for each value itself.
    const issued: IssuedTokens[] = [];
    const unwatch = idp.onTokens((t) => issued.push(t));
    const { s, b, clock } = await stack();
    try {
      clock.advance(TTL * 1000 + 1000);
      assert.equal((await b.request(`${s.url}/t`, { kind: 'api' })).status, 200);
      unwatch();
      assert.equal(grants(), 1, 'the request refreshed, so the logs cover a refresh');
      const secrets = issued.flatMap((t) => [t.accessToken, t.refreshToken, t.idToken]);
      assert.equal(secrets.filter((v) => v !== undefined).length, 6, 'access, refresh and ID token, twice');
      const all = JSON.stringify(s.logs);
      for (const [i, token] of secrets.entries())
        assertNotIn(all, token, `token ${i} (${TOKEN_KINDS[i % 3]})`);
      const cookie = b.cookie(s.url, 'gatehouse')!;
      assertNotIn(all, cookie.split('.')[0]!, 'session id');
      assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]{10,}\.eyJ/, 'no JWT in logs');
    } finally {
      unwatch();
      await s.close();
    }
  });
});
