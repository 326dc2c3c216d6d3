import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/util/clock.js';
import { basicAuth, tokenRequest } from '../devidp/helpers.js';
import { TestBrowser } from '../helpers/browser.js';
import { type Stack, startStack } from '../helpers/stack.js';

/**
 * API clients end to end with our own dev IdP: its client_credentials grant (RFC 9068 JWTs, or
 * opaque tokens under `opaque-access-tokens`) and its RFC 7662 introspection endpoint, counted at
 * the IdP, through the reverse proxy.
 */
const BOT = {
  id: 'ci-bot',
  secret: 'ci-bot-secret',
  scopes: ['api:read', 'api:write'],
  audience: 'grafana-api',
};

describe('bearer tokens from the dev IdP through the reverse proxy', () => {
  let s: Stack;
  const clock = new ManualClock();
  before(async () => {
    s = await startStack({
      clock,
      idp: { clients: [BOT] },
      config: {
        bearer: { accept: ['jwt', 'introspection'], audiences: ['grafana-api', 'gatehouse-api'] },
        authorization: { rules: [{ pathPrefix: '/write', requiredScopes: ['api:write'] }] },
      } as never,
    });
  });
  after(() => s.close());

  async function machineToken(scope = 'api:read'): Promise<string> {
    const r = await tokenRequest(
      s.idp,
      { grant_type: 'client_credentials', scope },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return String(r.json.access_token);
  }

  const call = (token: string, path = '/x', kind: 'api' | 'navigate' = 'api') =>
    new TestBrowser().request(`${s.url}${path}`, { kind, headers: { authorization: `Bearer ${token}` } });

  it('a client-credentials JWT → 200; the upstream sees the machine client by its id', async () => {
    const r = await call(await machineToken());
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['set-cookie'], undefined);
    const seen = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(seen['x-forwarded-user'], 'ci-bot');
    assert.equal(seen['x-forwarded-client-id'], 'ci-bot');
    // Its scope does not cover /write: 403 insufficient_scope, never a redirect.
    const denied = await call(await machineToken(), '/write', 'navigate');
    assert.equal(denied.status, 403);
    assert.match(
      String(denied.headers['www-authenticate']),
      /error="insufficient_scope", .*scope="api:write"/,
    );
    assert.equal((await call(await machineToken('api:read api:write'), '/write')).status, 200);
  });

  it('opaque tokens: a burst of 200 requests with one token costs exactly 1 introspection call', async () => {
    s.idp.setProfiles(['opaque-access-tokens']);
    try {
      const token = await machineToken();
      assert.ok(!token.includes('.'), 'an opaque token');
      const before = s.idp.stats().requests.introspect;
      const answers = await Promise.all(Array.from({ length: 200 }, () => call(token)));
      assert.deepEqual(
        answers.map((r) => r.status).filter((st) => st !== 200),
        [],
      );
      assert.equal(
        answers[0]!.json<{ headers: Record<string, string> }>().headers['x-forwarded-user'],
        'ci-bot',
      );
      assert.equal(s.idp.stats().requests.introspect - before, 1);
    } finally {
      s.idp.setProfiles([]);
    }
  });

  it('a revoked opaque token → 401 invalid_token once the cached answer has expired', async () => {
    s.idp.setProfiles(['opaque-access-tokens']);
    try {
      const token = await machineToken();
      assert.equal((await call(token)).status, 200);
      const revoke = await fetch(`${s.idp.issuer}/revoke`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(BOT.id, BOT.secret),
        },
        body: new URLSearchParams({ token }).toString(),
      });
      assert.equal(revoke.status, 200);
      clock.advance(61_000); // past bearer.introspection.cacheSeconds (60)
      const r = await call(token, '/x', 'navigate');
      assert.equal(r.status, 401, r.body);
      assert.equal(r.json().error, 'invalid_token');
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm="gatehouse", error="invalid_token"/);
      assert.equal(r.location, undefined);
    } finally {
      s.idp.setProfiles([]);
    }
  });

  it('introspection-5xx → 503 with Retry-After (never 200, never a redirect), and the outage is not cached', async () => {
    s.idp.setProfiles(['opaque-access-tokens']);
    const token = await machineToken();
    s.idp.setProfiles(['opaque-access-tokens', 'introspection-5xx']);
    try {
      const r = await call(token, '/x', 'navigate');
      assert.equal(r.status, 503, r.body);
      assert.ok(Number(r.headers['retry-after']) >= 1);
      assert.equal(r.location, undefined);
    } finally {
      s.idp.setProfiles(['opaque-access-tokens']);
    }
    assert.equal((await call(token)).status, 200, 'served once introspection is back');
    s.idp.setProfiles([]);
  });
});
