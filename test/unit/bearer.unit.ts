import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { pathReadings } from '../../src/authz/pathReadings.js';
import { authorize } from '../../src/authz/policy.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ManagedHeaders } from '../../src/http/managedHeaders.js';
import { bearerChallenge } from '../../src/http/respond.js';
import { IDENTITY_HEADER_NAMES } from '../../src/identity/identity.js';
import { AccessTokenJwtVerifier, looksLikeJwt } from '../../src/oidc/accessTokenJwt.js';
import { bearerSettingsSchema } from '../../src/oidc/bearerSettings.js';
import { OidcError } from '../../src/oidc/errors.js';
import { TokenIntrospector, tokenHash } from '../../src/oidc/introspection.js';
import { scopesOf } from '../../src/oidc/tokenVerdict.js';
import { ManualClock } from '../../src/util/clock.js';

const ISSUER = 'http://127.0.0.1:9000';

function config(bearer: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return loadConfig({
    object: {
      publicUrl: 'http://127.0.0.1:4180',
      provider: { issuer: ISSUER, clientId: 'gatehouse', clientSecret: 'x' },
      session: { secret: 'a-session-secret-that-is-long-enough-0123456789' },
      bearer,
      ...extra,
    },
    env: {},
  });
}

function problems(bearer: Record<string, unknown>): string[] {
  try {
    config(bearer);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('accepted');
}

describe('bearer config', () => {
  test('default: not accepted, asymmetric algorithms only', () => {
    const c = config({});
    assert.deepEqual(c.bearer.accept, []);
    assert.ok(!(c.bearer.algorithms as string[]).some((a) => a === 'none' || a.startsWith('HS')));
    assert.equal(c.bearer.introspection.cacheSeconds, 60);
    assert.equal(c.bearer.preferOverCookie, true);
  });

  test('accept: [jwt] without an audience names bearer.audiences', () => {
    assert.ok(problems({ accept: ['jwt'] }).some((p) => p.startsWith('bearer.audiences: is required')));
    assert.ok(
      problems({ accept: ['introspection'] }).some((p) => p.startsWith('bearer.audiences: is required')),
    );
    assert.equal(config({ accept: ['jwt'], audiences: ['api'] }).bearer.accept[0], 'jwt');
    assert.equal(
      config({ accept: ['jwt'], issuers: [{ issuer: 'https://other.example', audiences: ['a'] }] }).bearer
        .issuers.length,
      1,
    );
  });

  test('an issuer without audiences, alg none/HS256, an unknown key, a bad accept value: named', () => {
    assert.ok(
      problems({ accept: ['jwt'], issuers: [{ issuer: 'https://x.example', audiences: [] }] }).some((p) =>
        p.includes('bearer.issuers.0.audiences'),
      ),
    );
    assert.ok(
      problems({ accept: ['jwt'], audiences: ['a'], algorithms: ['none'] }).some(
        (p) => p.includes('bearer.algorithms.0') && p.includes('never none'),
      ),
    );
    assert.ok(
      problems({ accept: ['jwt'], audiences: ['a'], algorithms: ['HS256'] }).some((p) =>
        p.includes('bearer.algorithms.0'),
      ),
    );
    assert.ok(
      problems({ accept: ['jwt'], audiences: ['a'], audience: ['a'] }).some((p) =>
        p.includes('unknown key audience'),
      ),
    );
    assert.ok(problems({ accept: ['opaque'] }).some((p) => p.startsWith('bearer.accept.0')));
    assert.ok(
      problems({ accept: ['jwt'], audiences: ['a'], pathPrefixes: ['api'] }).some((p) =>
        p.startsWith('bearer.pathPrefixes.0'),
      ),
    );
  });

  test('requiredScopes on a rule; a scope with a quote is refused', () => {
    const c = config({}, { authorization: { rules: [{ pathPrefix: '/a', requiredScopes: ['read:a'] }] } });
    assert.deepEqual(c.authorization.rules[0]!.requiredScopes, ['read:a']);
    assert.throws(
      () => config({}, { authorization: { rules: [{ pathPrefix: '/a', requiredScopes: ['a"b'] }] } }),
      ConfigError,
    );
  });
});

describe('requiredScopes', () => {
  const policy = config(
    {},
    {
      authorization: {
        rules: [{ pathPrefix: '/billing', requiredScopes: ['billing:read', 'billing:write'] }],
      },
    },
  ).authorization;
  const id = { sub: 's', user: 'u', groups: [], roles: [] };

  test('all listed scopes are needed, on every reading of the path', () => {
    assert.equal(
      authorize(policy, id, pathReadings('/billing/x'), ['billing:read', 'billing:write']).ok,
      true,
    );
    const r = authorize(policy, id, pathReadings('/BILLING/x'), ['billing:read']);
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.requiredScopes, ['billing:read', 'billing:write']);
    assert.match(!r.ok ? r.reason : '', /billing:write/);
    assert.equal(authorize(policy, id, pathReadings('/%62illing/x'), []).ok, false);
    assert.equal(authorize(policy, id, pathReadings('/other'), []).ok, true);
  });

  test('no scopes known (a session from before scopes were kept) → denied: fail closed', () => {
    assert.equal(authorize(policy, id, pathReadings('/billing'), undefined).ok, false);
  });

  test('scope (space-separated) and scp (array or string) are both read', () => {
    assert.deepEqual(scopesOf({ scope: 'a b  c' }), ['a', 'b', 'c']);
    assert.deepEqual(scopesOf({ scp: ['a', 'b', 3] }), ['a', 'b']);
    assert.deepEqual(scopesOf({ scp: 'x y' }), ['x', 'y']);
  });
});

describe('RFC 6750 answers and headers', () => {
  test('the challenge quotes only what may be quoted (no header injection through a reason)', () => {
    const h = bearerChallenge({ error: 'invalid_token', description: 'bad "x"\r\nSet-Cookie: a=b \\' });
    assert.equal(
      h,
      'Bearer realm="gatehouse", error="invalid_token", error_description="bad xSet-Cookie: a=b "',
    );
    assert.equal(
      bearerChallenge({ error: 'insufficient_scope', scope: 'a b' }),
      'Bearer realm="gatehouse", error="insufficient_scope", scope="a b"',
    );
  });

  test('X-Forwarded-Client-Id is an identity header, dropped from client requests in every spelling', () => {
    assert.ok((IDENTITY_HEADER_NAMES as readonly string[]).includes('x-forwarded-client-id'));
    const lax = new ManagedHeaders({ allowUnderscoreHeaders: true, setsAuthorization: false });
    for (const n of [
      'x-forwarded-client-id',
      'x_forwarded_client_id',
      'x.forwarded.client.id',
      'x-forwarded-client_id',
    ]) {
      assert.equal(lax.drops(n), true, n);
    }
  });

  test('looksLikeJwt: three base64url parts only', () => {
    assert.equal(looksLikeJwt('a.b.c'), true);
    assert.equal(looksLikeJwt('a.b.'), false);
    assert.equal(looksLikeJwt('a.b.c.d.e'), false);
    assert.equal(looksLikeJwt('opaque'), false);
  });
});

describe('AccessTokenJwtVerifier', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] });
  const clock = new ManualClock(1_700_000_000_000);
  let verifications = 0;
  const provider = {
    async verifySignedJwt(
      jwt: string,
      checks: { algorithms: string[]; clockToleranceSec: number; requiredClaims: string[] },
    ) {
      verifications++;
      try {
        const r = await jwtVerify(jwt, jwks, {
          issuer: ISSUER,
          algorithms: checks.algorithms,
          clockTolerance: checks.clockToleranceSec,
          requiredClaims: checks.requiredClaims,
          currentDate: new Date(clock.now()),
        });
        return { payload: r.payload, typ: r.protectedHeader.typ };
      } catch (err) {
        throw new OidcError('token_unverified', {}, err);
      }
    },
  };
  const bearer = bearerSettingsSchema.parse({ accept: ['jwt'], audiences: ['api'] });
  const v = new AccessTokenJwtVerifier(provider, {
    bearer,
    providerIssuer: ISSUER,
    clientId: 'gatehouse',
    clockToleranceSec: 30,
    timeoutMs: 1000,
    now: () => clock.now(),
  });
  const now = () => Math.floor(clock.now() / 1000);
  const sign = (claims: JWTPayload, typ: string | undefined = 'at+jwt') =>
    new SignJWT({ iss: ISSUER, aud: 'api', sub: 'u1', iat: now(), exp: now() + 300, ...claims })
      .setProtectedHeader(typ ? { alg: 'RS256', kid: 'k1', typ } : { alg: 'RS256', kid: 'k1' })
      .sign(privateKey);

  test('a good at+jwt, a plain JWT, and one without typ are active', async () => {
    assert.equal((await v.verify(await sign({}))).kind, 'active');
    assert.equal((await v.verify(await sign({}, 'JWT'))).kind, 'active');
    assert.equal((await v.verify(await sign({}, undefined))).kind, 'active');
  });

  test('refusals, each with its reason', async () => {
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['wrong aud', sign({ aud: 'other' }), /aud/],
      ['aud as array with ours', sign({ aud: ['x', 'api'] }), /^$/],
      ['expired', sign({ exp: now() - 60 }), /expired/],
      ['within tolerance', sign({ exp: now() - 10 }), /^$/],
      ['not yet valid', sign({ nbf: now() + 120 }), /nbf/],
      [
        'no exp',
        new SignJWT({ iss: ISSUER, aud: 'api', sub: 'u' })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
          .sign(privateKey),
        /exp/,
      ],
      ['another issuer', sign({ iss: 'https://evil.example' }), /issuer/],
      ['ID token: typ JWT + aud = client id', sign({ aud: ['gatehouse', 'api'] }, 'JWT'), /ID token/],
      ['ID token: nonce', sign({ nonce: 'n' }), /ID token/],
      ['ID token: at_hash', sign({ at_hash: 'h' }), /ID token/],
      ['another typ', sign({}, 'logout+jwt'), /typ/],
    ];
    for (const [name, token, why] of cases) {
      const r = await v.verify(await token);
      if (why.source === '^$') assert.equal(r.kind, 'active', name);
      else {
        assert.equal(r.kind, 'invalid', name);
        assert.match(r.kind === 'invalid' ? r.description : '', why, name);
      }
    }
  });

  test('alg none / HS256 are refused before any key is looked at', async () => {
    const before = verifications;
    const body = Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 60 })).toString(
      'base64url',
    );
    for (const alg of ['none', 'HS256']) {
      const h = Buffer.from(JSON.stringify({ alg, typ: 'at+jwt' })).toString('base64url');
      const r = await v.verify(`${h}.${body}.AAAA`);
      assert.equal(r.kind, 'invalid');
      assert.match(r.kind === 'invalid' ? r.description : '', /algorithm/);
    }
    assert.equal(verifications, before);
  });

  test('the provider not reached yet → unavailable (a 503), not a refusal', async () => {
    const down = new AccessTokenJwtVerifier(
      { verifySignedJwt: () => Promise.reject(new OidcError('not_ready')) },
      {
        bearer,
        providerIssuer: ISSUER,
        clientId: 'gatehouse',
        clockToleranceSec: 30,
        timeoutMs: 1000,
        now: () => clock.now(),
      },
    );
    assert.equal((await down.verify(await sign({}))).kind, 'unavailable');
  });
});

describe('TokenIntrospector', () => {
  const settings = bearerSettingsSchema.parse({}).introspection;
  function make(
    answer: (token: string) => Promise<Record<string, unknown>>,
    over: Partial<typeof settings> = {},
  ) {
    const clock = new ManualClock(1_700_000_000_000);
    const calls: string[] = [];
    const events: string[] = [];
    const i = new TokenIntrospector(
      (t) => {
        calls.push(t);
        return answer(t);
      },
      {
        settings: { ...settings, ...over },
        audiences: ['api'],
        issuer: () => ISSUER,
        clock,
        count: (e) => events.push(e),
      },
    );
    return { i, clock, calls, events };
  }
  const active = (clock: ManualClock, extra: Record<string, unknown> = {}) => ({
    active: true,
    aud: 'api',
    iss: ISSUER,
    sub: 'u1',
    exp: Math.floor(clock.now() / 1000) + 3600,
    ...extra,
  });

  test('a burst of one token is one call (single flight), then cached', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { i, clock, calls } = make(async () => {
      await gate;
      return active(clock);
    });
    const burst = Array.from({ length: 200 }, () => i.check('tok'));
    release();
    const results = await Promise.all(burst);
    assert.ok(results.every((r) => r.kind === 'active'));
    assert.equal(calls.length, 1);
    assert.equal((await i.check('tok')).kind, 'active');
    assert.equal(calls.length, 1);
  });

  test('an active answer is cached at most cacheSeconds, and never past exp', async () => {
    const { i, clock, calls } = make(async () => active(clock, { exp: Math.floor(clock.now() / 1000) + 20 }));
    await i.check('t');
    clock.advance(19_000);
    assert.equal((await i.check('t')).kind, 'active');
    assert.equal(calls.length, 1);
    clock.advance(2_000); // past exp (20 s), well before cacheSeconds (60 s)
    await i.check('t');
    assert.equal(calls.length, 2, 'the cached answer did not outlive exp');

    const long = make(async () => active(long.clock));
    await long.i.check('t');
    long.clock.advance(59_000);
    await long.i.check('t');
    assert.equal(long.calls.length, 1);
    long.clock.advance(2_000);
    await long.i.check('t');
    assert.equal(long.calls.length, 2, 'cacheSeconds caps the cache');
  });

  test('inactive answers are cached briefly (negativeCacheSeconds); failures are never cached', async () => {
    const { i, clock, calls } = make(async () => ({ active: false }));
    for (let n = 0; n < 5; n++) assert.equal((await i.check('revoked')).kind, 'invalid');
    assert.equal(calls.length, 1);
    clock.advance(settings.negativeCacheSeconds * 1000 + 1);
    await i.check('revoked');
    assert.equal(calls.length, 2);

    let fail = true;
    const f = make(async () => {
      if (fail) throw new TypeError('fetch failed');
      return active(f.clock);
    });
    assert.equal((await f.i.check('t')).kind, 'unavailable');
    fail = false;
    assert.equal((await f.i.check('t')).kind, 'active');
    assert.equal(f.calls.length, 2);
  });

  test('active but wrong audience / other issuer / expired / a refresh token → invalid', async () => {
    for (const [extra, why] of [
      [{ aud: 'other' }, /aud/],
      [{ aud: undefined }, /aud/],
      [{ iss: 'https://evil.example' }, /issuer/],
      [{ exp: 1 }, /expired/],
      [{ token_type: 'refresh_token' }, /refresh/],
      [{ active: 'true' }, /not active/],
    ] as const) {
      const { i, clock } = make(async () => active(clock, extra as Record<string, unknown>));
      const r = await i.check('t');
      assert.equal(r.kind, 'invalid', JSON.stringify(extra));
      assert.match(r.kind === 'invalid' ? r.description : '', why);
    }
  });

  test('its own budget: beyond maxConcurrent + maxQueue, a new token is unavailable at once (no call)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { i, clock, calls, events } = make(
      async () => {
        await gate;
        return active(clock);
      },
      { maxConcurrent: 2, maxQueue: 3 },
    );
    const flood = Array.from({ length: 10 }, (_, n) => i.check(`random-${n}`));
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.length, 2, 'two in flight');
    release();
    const results = await Promise.all(flood);
    assert.equal(results.filter((r) => r.kind === 'unavailable').length, 5);
    assert.equal(events.filter((e) => e === 'budget_full').length, 5);
    assert.equal(calls.length, 5);
  });

  test('the cache is bounded (maxCacheEntries) and keyed by hash, never by the token', async () => {
    const { i, clock, calls } = make(async () => active(clock), { maxCacheEntries: 2 });
    await i.check('a');
    await i.check('b');
    await i.check('c');
    await i.check('a');
    assert.equal(calls.length, 4, 'a was evicted');
    assert.notEqual(tokenHash('a'), 'a');
    assert.equal(tokenHash('a').length, 43);
  });
});
