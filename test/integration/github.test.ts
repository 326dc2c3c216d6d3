import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import { type Reply, TestBrowser } from '../helpers/browser.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { type Stack, startStack } from '../helpers/stack.js';

type Echo = { headers: Record<string, string> };

/**
 * `provider.preset: github` against the dev IdP's `github` / `github-app` profiles, which answer
 * at GitHub's own paths (`/login/oauth/…`, `/api/v3/user…`) like GitHub Enterprise Server at the
 * issuer URL: OAuth 2.0 without an ID token, identity from the REST API, token errors as HTTP 200.
 */
describe('GitHub (preset github)', () => {
  const idp = useTestIdp();
  const stacks: Stack[] = [];
  after(async () => {
    for (const s of stacks) await s.close();
  });
  beforeEach(() => idp.reset());

  async function stack(profiles: string[], clock = new ManualClock()) {
    idp.setProfiles(profiles);
    const s = await startStack({
      idpInstance: idp,
      clock,
      config: {
        provider: { preset: 'github' },
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['example-org/admins'] }] },
      } as never,
    });
    stacks.push(s);
    return { s, clock };
  }

  /** Logs in as `user` (login_hint on the GitHub-path authorize URL picks the dev user). */
  function loginAs(s: Stack, b: TestBrowser, user: string, path = '/'): Promise<Reply[]> {
    return b.follow(s.url + path, {
      rewrite: (u) => {
        if (!u.startsWith(`${idp.issuer}/login/oauth/authorize`)) return u;
        const x = new URL(u);
        x.searchParams.set('login_hint', user);
        return x.href;
      },
    });
  }

  it('signs in through GitHub paths with PKCE and state (no nonce), identity and teams from the API', async () => {
    const { s } = await stack(['github']);
    const b = new TestBrowser();
    const hops = await loginAs(s, b, 'alice', '/dashboard');
    const authorize = new URL(hops[0]!.location!);
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${idp.issuer}/login/oauth/authorize`);
    assert.equal(authorize.searchParams.get('scope'), 'read:user user:email read:org');
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('state'));
    assert.equal(authorize.searchParams.get('nonce'), null, 'no ID token to carry a nonce');

    const last = hops.at(-1)!;
    assert.equal(last.status, 200, last.body);
    const h = last.json<Echo>().headers;
    assert.equal(h['x-forwarded-user'], 'alice', 'the GitHub login');
    assert.equal(h['x-forwarded-email'], 'alice@example.com', 'the primary address, not the noreply one');
    assert.equal(h['x-forwarded-groups'], 'example-org,example-org/admins,example-org/dev');
    const info = (await b.request(`${s.url}/oauth2/userinfo`, { kind: 'api' })).json<{ sub: string }>();
    assert.equal(
      info.sub,
      `${new URL(idp.issuer).host}/${info.sub.split('/').at(-1)}`,
      'sub is <host>/<numeric id>: stable across renames, never equal to a login',
    );
    assert.match(info.sub, /\/\d+$/);
    assert.ok(b.cookie(s.url, 'gatehouse')!.length < 200);
    assert.equal(idp.stats().requests.userinfo, 4, '/user, /user/emails, /user/orgs, /user/teams');

    assert.equal((await b.request(`${s.url}/admin/x`, { kind: 'api' })).status, 200);
    const bob = new TestBrowser();
    assert.equal((await loginAs(s, bob, 'bob')).at(-1)!.status, 200);
    const denied = await bob.request(`${s.url}/admin/x`, { kind: 'api' });
    assert.equal(denied.status, 403, 'bob is not in example-org/admins');
  });

  it('600 teams: every page is read (Link rel="next"), the cookie stays small', async () => {
    const { s } = await stack(['github', 'huge-groups']);
    const b = new TestBrowser();
    assert.equal((await loginAs(s, b, 'alice')).at(-1)!.status, 200);
    const info = (await b.request(`${s.url}/oauth2/userinfo`, { kind: 'api' })).json<{ groups: string[] }>();
    assert.equal(info.groups.length, 1 + 2 + 600, "the organisation, alice's two teams and 600 more");
    assert.ok(info.groups.includes('example-org/group-0600-some-long-team-name'), 'the last page too');
    assert.ok(b.cookie(s.url, 'gatehouse')!.length < 200);
    assert.equal(idp.stats().requests.userinfo, 3 + 7, '/user, /user/emails, /user/orgs, 7 pages of teams');
  });

  it('an OAuth app token does not expire: the session lasts without refreshing or calling GitHub', async () => {
    const { s, clock } = await stack(['github']);
    const b = new TestBrowser();
    assert.equal((await loginAs(s, b, 'alice')).at(-1)!.status, 200);
    idp.reset();
    clock.advance(6 * 3600_000); // far past any default token lifetime, within session.maxAgeSeconds
    assert.equal((await b.request(`${s.url}/later`, { kind: 'api' })).status, 200);
    // no call to any endpoint of the provider (whatever endpoints the dev IdP counts)
    assert.deepEqual(
      Object.entries(idp.stats().requests).filter(([, n]) => n !== 0),
      [],
    );
    clock.advance(18 * 3600_000 + 1000); // past session.maxAgeSeconds (1 day)
    assert.equal((await b.request(`${s.url}/much-later`, { kind: 'api' })).status, 401);
  });

  it("GitHub's HTTP-200 token error (a dead code) is a 400 page with the reason, not a loop or a 500", async () => {
    const { s } = await stack(['github']);
    const b = new TestBrowser();
    const start = await b.request(`${s.url}/x`);
    assert.equal(start.status, 302);
    const atIdp = await b.request(start.location!);
    const callback = new URL(atIdp.location!);
    callback.searchParams.set('code', 'not-a-code');
    const r = await b.request(callback.href);
    assert.equal(r.status, 400, r.body);
    assert.equal(r.location, undefined, 'an error page, not another redirect');
    assert.match(r.body, /refused the sign-in code \(invalid_grant\)/);
    assert.equal(idp.stats().errors.bad_verification_code, 1);
  });

  it('a GitHub App (expiring tokens): refreshed with rotation, identity and teams re-read at each refresh', async () => {
    const { s, clock } = await stack(['github-app']);
    const b = new TestBrowser();
    assert.equal((await loginAs(s, b, 'alice')).at(-1)!.status, 200);
    assert.equal((await b.request(`${s.url}/admin/a`, { kind: 'api' })).status, 200);
    idp.reset();
    for (let cycle = 1; cycle <= 2; cycle++) {
      clock.advance(301_000); // past expires_in (300 s)
      const r = await b.request(`${s.url}/after-expiry`, { kind: 'api' });
      assert.equal(r.status, 200);
      assert.equal(r.json<Echo>().headers['x-forwarded-user'], 'alice');
      assert.equal(idp.stats().grants.refresh_token, cycle, 'one rotating grant per expiry');
    }
    assert.deepEqual(idp.stats().errors, {}, 'no bad_refresh_token: every rotated token was kept');

    // A team removed at GitHub shows at the next refresh.
    idp.setProfiles(['github-app', 'refresh-loses-group']);
    clock.advance(301_000);
    assert.equal((await b.request(`${s.url}/admin/a`, { kind: 'api' })).status, 403);
    assert.equal(idp.stats().grants.refresh_token, 3);
  });

  it("a GitHub App's dead refresh token (HTTP 200 bad_refresh_token) ends the session cleanly", async () => {
    const { s, clock } = await stack(['github-app']);
    const b = new TestBrowser();
    assert.equal((await loginAs(s, b, 'alice')).at(-1)!.status, 200);
    idp.setProfiles(['github-app', 'refresh-invalid-grant']);
    clock.advance(301_000);
    const api = await b.request(`${s.url}/api/x`, { kind: 'api' });
    assert.equal(api.status, 401);
    assert.match(String(api.headers['www-authenticate']), /login_url=/);
    const nav = await b.request(`${s.url}/page`);
    assert.equal(nav.status, 302, 'navigation → sign-in again');
    assert.ok(nav.location!.startsWith(`${idp.issuer}/login/oauth/authorize`));
    assert.ok(
      s.logs.some((l) => String(l.msg).startsWith('failed to renew OIDC token: invalid_grant')),
      'logged as terminal',
    );
  });
});
