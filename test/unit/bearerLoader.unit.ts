import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Decision } from '../../src/engine/decision.js';
import { OidcError } from '../../src/oidc/errors.js';
import { EngineHarness } from './engineHarness.js';

/**
 * The bearer loader's decisions through the real engine (EngineHarness: ManualClock, memory
 * store), behind a provider whose JWT verification and introspection answers each test sets.
 */
function harness(bearer: Record<string, unknown>, authorization: Record<string, unknown> = {}) {
  const h = new EngineHarness({
    config: { bearer: { audiences: ['api'], ...bearer }, authorization },
  });
  const idp = h.idp as unknown as Record<string, unknown>;
  const calls = { verify: 0, introspect: 0 };
  let verifyWith: (jwt: string) => Promise<{ payload: Record<string, unknown>; typ: string | undefined }> =
    async () => {
      throw new OidcError('token_unverified');
    };
  let introspectWith: (token: string) => Promise<Record<string, unknown>> = async () => ({ active: false });
  idp.verifySignedJwt = (jwt: string) => {
    calls.verify++;
    return verifyWith(jwt);
  };
  idp.introspectToken = (token: string) => {
    calls.introspect++;
    return introspectWith(token);
  };
  Object.defineProperty(idp, 'discoveredIssuer', { get: () => 'https://idp.test' });
  const check = (authorization: string | undefined, path = '/api/x') =>
    h.engine.check(h.request(path, { authorization }));
  return {
    h,
    calls,
    check,
    verify(fn: typeof verifyWith) {
      verifyWith = fn;
    },
    introspect(fn: typeof introspectWith) {
      introspectWith = fn;
    },
  };
}

const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOiJodHRwczovL2lkcC50ZXN0In0.c2ln';

function allowed(d: Decision) {
  assert.equal(d.type, 'allow', JSON.stringify(d));
  return d as Extract<Decision, { type: 'allow' }>;
}

describe('BearerTokenLoader through the engine', () => {
  test('a machine client (sub = client_id) is its client id upstream', async () => {
    const t = harness({ accept: ['introspection'] });
    const exp = Math.floor(t.h.clock.now() / 1000) + 600;
    t.introspect(async () => ({
      active: true,
      aud: 'api',
      client_id: 'ci-bot',
      sub: 'ci-bot',
      exp,
      scope: 'a b',
    }));
    const d = allowed(await t.check('Bearer opaque-1'));
    assert.equal(d.upstreamHeaders['x-forwarded-user'], 'ci-bot');
    assert.equal(d.upstreamHeaders['x-forwarded-client-id'], 'ci-bot');
    assert.deepEqual(d.setCookies, []);
  });

  test('a machine client without sub too; a user token is the user, groups by the claim mapping', async () => {
    const t = harness(
      { accept: ['introspection'] },
      { rules: [{ pathPrefix: '/api/ops', allowedGroups: ['ops'] }] },
    );
    const exp = Math.floor(t.h.clock.now() / 1000) + 600;
    t.introspect(async (tok) =>
      tok === 'machine'
        ? { active: true, aud: 'api', client_id: 'svc', exp }
        : {
            active: true,
            aud: ['api'],
            client_id: 'cli',
            sub: 'u1',
            preferred_username: 'alice',
            groups: ['ops'],
            exp,
          },
    );
    assert.equal(allowed(await t.check('Bearer machine')).upstreamHeaders['x-forwarded-user'], 'svc');
    const d = allowed(await t.check('Bearer user', '/api/ops/x'));
    assert.equal(d.upstreamHeaders['x-forwarded-user'], 'alice');
    assert.equal(d.upstreamHeaders['x-forwarded-groups'], 'ops');
    assert.equal(d.upstreamHeaders['x-forwarded-client-id'], 'cli');
    const denied = await t.check('Bearer machine', '/api/ops/x');
    assert.equal(denied.type === 'error' && denied.code, 'insufficient_scope');
  });

  test('a verified JWT is cached: the next request costs no verification, until the cap', async () => {
    const t = harness({ accept: ['jwt'], jwtCacheSeconds: 60 });
    const exp = Math.floor(t.h.clock.now() / 1000) + 3600;
    t.verify(async () => ({
      payload: { iss: 'https://idp.test', aud: 'api', sub: 'u1', exp },
      typ: 'at+jwt',
    }));
    for (let i = 0; i < 10; i++) allowed(await t.check(`Bearer ${JWT}`));
    assert.equal(t.calls.verify, 1);
    t.h.clock.advance(61_000);
    allowed(await t.check(`Bearer ${JWT}`));
    assert.equal(t.calls.verify, 2);
  });

  test('a cached JWT never outlives its exp', async () => {
    const t = harness({ accept: ['jwt'], jwtCacheSeconds: 600 });
    const exp = Math.floor(t.h.clock.now() / 1000) + 30;
    t.verify(async () => ({
      payload: { iss: 'https://idp.test', aud: 'api', sub: 'u1', exp },
      typ: 'at+jwt',
    }));
    allowed(await t.check(`Bearer ${JWT}`));
    t.h.clock.advance(31_000);
    t.verify(async () => {
      throw new OidcError('token_unverified');
    });
    const d = await t.check(`Bearer ${JWT}`);
    assert.equal(d.type === 'error' && d.status, 401);
    assert.equal(t.calls.verify, 2);
  });

  test('refusals are 401 invalid_token even for a navigation; outages are 503 with Retry-After', async () => {
    const t = harness({ accept: ['introspection'] });
    t.h.client = 'navigation';
    for (const header of [
      'Bearer',
      'Bearer a b',
      'Bearer    ',
      `Bearer ${'x'.repeat(17_000)}`,
      'Bearer opaque',
    ]) {
      const d = await t.check(header);
      assert.equal(d.type, 'error', header.slice(0, 20));
      assert.equal(d.type === 'error' && d.status, 401, header.slice(0, 20));
      assert.equal(d.type === 'error' && d.bearer?.error, 'invalid_token');
      assert.deepEqual(d.setCookies, []);
    }
    t.introspect(async () => {
      throw new TypeError('fetch failed');
    });
    const d = await t.check('Bearer another');
    assert.equal(d.type === 'error' && d.status, 503);
    assert.ok(d.type === 'error' && d.retryAfterSec! >= 1);
    assert.ok(d.type === 'error' && d.bearer, 'answered as JSON');
  });

  test('another scheme (Basic) is not a bearer token: the cookie rules apply (a navigation signs in)', async () => {
    const t = harness({ accept: ['jwt'] });
    const d = await t.check('Basic dXNlcjpwYXNz');
    assert.equal(d.type, 'redirect');
    assert.equal(t.calls.verify, 0);
  });

  test('outside pathPrefixes the token is not looked at', async () => {
    const t = harness({ accept: ['jwt'], pathPrefixes: ['/api'] });
    t.h.client = 'api';
    const d = await t.check(`Bearer ${JWT}`, '/apix');
    assert.equal(d.type === 'error' && d.code, 'no_session');
    assert.equal(t.calls.verify, 0);
    const e = await t.check(`Bearer ${JWT}`, '/Api/%78');
    assert.equal(e.type === 'error' && e.code, 'invalid_token');
  });
});
