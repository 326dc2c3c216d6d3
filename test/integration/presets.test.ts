import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DevIdpOptions } from '../../src/devidp/index.js';
import type { DevUser } from '../../src/devidp/types.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, type StackConfig, startStack } from '../helpers/stack.js';

type Echo = { headers: Record<string, string> };

/**
 * The dev IdP under a provider's profile, the gateway with `provider` settings (usually only
 * `preset`), alice logged in through the real redirect chain; `check` sees the stack, the
 * browser and the upstream's view of the last hop.
 */
async function withLogin(
  profiles: string[],
  provider: Record<string, unknown>,
  check: (s: Stack, b: TestBrowser, upstream: Record<string, string>, status: number) => Promise<void>,
  more: { idp?: DevIdpOptions; config?: StackConfig; user?: string } = {},
): Promise<void> {
  const s = await startStack({
    idp: { profiles, ...more.idp },
    config: { ...more.config, provider } as never,
  });
  try {
    const b = new TestBrowser();
    const last = (await login(s, b, more.user ? { user: more.user } : {})).at(-1)!;
    await check(s, b, last.status === 200 ? last.json<Echo>().headers : {}, last.status);
  } finally {
    await s.close();
  }
}

/** The start-up line that says which preset is in force and why. */
function presetLine(s: Stack): string | undefined {
  const line = s.logs.find((l) => String(l.msg).startsWith('provider preset: '));
  return line === undefined ? undefined : String(line.msg);
}

describe('provider presets end to end (dev IdP profile of the same name)', () => {
  it('keycloak: group paths without the leading /, realm and client roles as groups, default roles dropped', async () => {
    await withLogin(['keycloak'], { preset: 'keycloak' }, async (s, _b, up) => {
      assert.equal(up['x-forwarded-email'], 'alice@example.com');
      assert.equal(up['x-forwarded-groups'], 'admins,dev,admin');
      assert.equal(presetLine(s), 'provider preset: keycloak (provider.preset)');
    });
  });

  it('keycloak quirk: a rule on the group name matches the full-path group; without the preset it does not', async () => {
    const rule = { authorization: { allowedGroups: ['admins'] } };
    await withLogin(
      ['keycloak'],
      { preset: 'keycloak' },
      async (_s, _b, _up, status) => assert.equal(status, 200),
      {
        config: rule,
      },
    );
    await withLogin(
      ['keycloak'],
      { preset: 'generic' },
      async (_s, _b, _up, status) => assert.equal(status, 403),
      { config: rule },
    );
  });

  it('okta: the preset asks for the groups scope, so the groups claim comes', async () => {
    await withLogin(['okta'], { preset: 'okta' }, async (s, _b, up) => {
      assert.equal(up['x-forwarded-email'], 'alice@example.com');
      assert.equal(up['x-forwarded-groups'], 'admins,dev');
      const start = await new TestBrowser().request(`${s.url}/x`);
      assert.ok(new URL(start.location!).searchParams.get('scope')!.split(' ').includes('groups'));
    });
  });

  it('okta quirk: without the groups scope (generic preset) Okta sends no groups', async () => {
    await withLogin(['okta'], { preset: 'generic' }, async (_s, _b, up) => {
      assert.equal(up['x-forwarded-email'], 'alice@example.com');
      assert.equal(up['x-forwarded-groups'], undefined);
    });
  });

  it('auth0: namespaced https://example.com/groups and /roles are found without naming them', async () => {
    const rule = { authorization: { allowedRoles: ['admin'] } };
    await withLogin(
      ['auth0'],
      { preset: 'auth0' },
      async (_s, _b, up, status) => {
        assert.equal(status, 200);
        assert.equal(up['x-forwarded-email'], 'alice@example.com');
        assert.equal(up['x-forwarded-groups'], 'admins,dev');
      },
      { config: rule },
    );
  });

  it('auth0 quirk: no end_session_endpoint, so logout goes to /v2/logout with client_id and returnTo', async () => {
    await withLogin(['auth0'], { preset: 'auth0' }, async (s, b) => {
      const hops = await b.follow(`${s.url}/oauth2/logout`, { first: { method: 'POST' } });
      const out = new URL(hops[0]!.location!);
      assert.equal(out.origin + out.pathname, `${s.idp.issuer}/v2/logout`);
      assert.equal(out.searchParams.get('client_id'), 'gatehouse');
      assert.equal(out.searchParams.get('returnTo'), `${s.url}/oauth2/signed-out`);
      assert.match(hops.at(-1)!.body, /signed out/i);
      assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 401);
    });
  });

  it('auth0: provider.authorizationParams.audience reaches the authorization request (for Auth0 API access tokens)', async () => {
    await withLogin(
      ['auth0'],
      { preset: 'auth0', authorizationParams: { audience: 'https://api.example.com' } },
      async (s) => {
        const start = await new TestBrowser().request(`${s.url}/x`);
        assert.equal(new URL(start.location!).searchParams.get('audience'), 'https://api.example.com');
      },
    );
  });

  it('gitlab: groups (userinfo, read because the ID token lacks them) and the verified email', async () => {
    const rule = { authorization: { allowedEmailDomains: ['example.com'], allowedGroups: ['dev'] } };
    await withLogin(
      ['gitlab'],
      { preset: 'gitlab' },
      async (s, _b, up, status) => {
        assert.equal(status, 200);
        assert.equal(up['x-forwarded-email'], 'alice@example.com');
        assert.equal(up['x-forwarded-groups'], 'admins,dev');
        assert.equal(s.idp.stats().requests.userinfo, 1);
        const ready = s.logs.find((l) => String(l.msg).startsWith('refresh tokens (preset gitlab): '));
        assert.match(String(ready?.msg), /GitLab issues a refresh token with every authorization code grant/);
        assert.ok(
          !s.logs.some((l) => String(l.msg).includes('issued no refresh token')),
          'a refresh token came',
        );
      },
      { config: rule },
    );
  });

  it('gitlab quirk: without userinfo the ID token’s groups_direct are the groups; generic finds none', async () => {
    await withLogin(['gitlab'], { preset: 'gitlab', useUserinfo: false }, async (_s, _b, up) => {
      assert.equal(up['x-forwarded-groups'], 'admins,dev');
    });
    await withLogin(['gitlab'], { preset: 'generic', useUserinfo: false }, async (_s, _b, up) => {
      assert.equal(up['x-forwarded-groups'], undefined);
    });
  });

  it('google: with allowedEmailDomains, the Workspace hd claim must be one of them (the address alone is not enough)', async () => {
    const users: DevUser[] = [
      {
        sub: 'g1',
        username: 'alice',
        email: 'alice@example.com',
        hd: 'example.com',
        name: 'A',
        groups: [],
        roles: [],
      },
      // A consumer Google account created with a company address: Google verified the address,
      // but the company's Workspace does not manage the account (no hd).
      { sub: 'g2', username: 'dave', email: 'dave@example.com', name: 'D', groups: [], roles: [] },
    ];
    const more = { idp: { users }, config: { authorization: { allowedEmailDomains: ['example.com'] } } };
    await withLogin(
      ['google'],
      { preset: 'google' },
      async (_s, _b, up, status) => {
        assert.equal(status, 200);
        assert.equal(up['x-forwarded-email'], 'alice@example.com');
      },
      more,
    );
    await withLogin(
      ['google'],
      { preset: 'google' },
      async (_s, _b, _up, status) => assert.equal(status, 403),
      { ...more, user: 'dave' },
    );
  });
});
