// Fault kinds that change the IdP rather than one answer: clock-skew (what it signs and its Date
// header say another time) and key-rotation (with overlap, or with a window where tokens carry a
// kid the JWKS does not publish yet). Real sockets; jose verifies as a relying party would.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { parseDevIdpArgs } from '../../src/devidp/cli.js';
import {
  admin,
  authorize,
  claimsOf,
  codeGrantRequest,
  decodeProtectedHeader,
  getJson,
  login,
  startTestIdp,
  useRelyingParty,
  useTestIdp,
  verifyWithJwks,
} from './helpers.js';

describe('dev IdP faults: clock-skew', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  afterEach(async () => {
    await admin(idp, 'DELETE', 'faults');
    idp.setProfiles([]);
  });

  /** A code grant by hand (openid-client would refuse a skewed ID token before we could look). */
  async function tokens() {
    const a = await authorize(rp.config);
    const res = await codeGrantRequest(idp, a);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res;
  }

  it('shifts iat/exp/auth_time of the ID and access tokens and the Date header; counted in stats', async () => {
    idp.reset();
    const post = await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'clock-skew', skewSeconds: 300 }],
    });
    assert.equal(post.status, 200, JSON.stringify(post.json));
    const before = Math.floor(Date.now() / 1000);
    const res = await tokens();
    const after = Math.ceil(Date.now() / 1000);
    const id = claimsOf(res.json.id_token as string);
    const at = claimsOf(res.json.access_token as string);
    for (const [name, claims] of [
      ['id_token', id],
      ['access_token', at],
    ] as const) {
      const iat = claims.iat ?? 0;
      assert.ok(iat >= before + 300 && iat <= after + 300, `${name} iat ${iat} is now + 300 s`);
      assert.equal((claims.exp ?? 0) - iat, 300, `${name} keeps its lifetime`);
    }
    assert.ok((id.auth_time as number) >= before + 300, 'auth_time moved too');
    assert.equal(res.json.expires_in, 300, 'expires_in is relative, unchanged');
    const date = Date.parse(res.headers.get('date') ?? '') / 1000;
    assert.ok(date >= before + 299 && date <= after + 300, `Date header ${res.headers.get('date')}`);
    assert.equal(idp.stats().faults.token.fired, 1);
    assert.deepEqual((await admin(idp, 'GET', 'stats')).json.faults, idp.stats().faults);
    // The skew is the IdP's only: a relying party without tolerance sees an ID token from the future.
    const discovery = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    const plain = Date.parse(discovery.headers.get('date') ?? '') / 1000;
    assert.ok(plain <= after, 'other endpoints keep the true Date');
  });

  it('a negative skew issues tokens that are already expired; nth limits it to one call', async () => {
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'clock-skew', skewSeconds: -600, nth: 1 }],
    });
    const skewed = await tokens();
    await assert.rejects(verifyWithJwks(idp, skewed.json.id_token as string), joseErrors.JWTExpired);
    const next = await tokens();
    const payload = await verifyWithJwks(idp, next.json.id_token as string);
    assert.ok(Math.abs((payload.iat ?? 0) - Date.now() / 1000) < 5, 'the next call is on time');
  });

  it('the clock-skew profile moves every endpoint 5 minutes ahead; a rule wins where it fires', async () => {
    idp.setProfiles(['clock-skew']);
    const now = Date.now() / 1000;
    const jwks = await fetch(`${idp.issuer}/jwks`);
    const date = Date.parse(jwks.headers.get('date') ?? '') / 1000;
    assert.ok(date >= now + 298 && date <= now + 302, `Date ${jwks.headers.get('date')}`);
    const id = claimsOf((await tokens()).json.id_token as string);
    assert.ok(Math.abs((id.iat ?? 0) - now - 300) < 5, `iat ${id.iat}`);
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'clock-skew', skewSeconds: 60 }],
    });
    const ruled = claimsOf((await tokens()).json.id_token as string);
    assert.ok(Math.abs((ruled.iat ?? 0) - now - 60) < 5, `iat ${ruled.iat}`);
    assert.equal(idp.stats().faults.jwks.fired, 0, 'a profile is not a fault');
    // openid-client checks exp (and nbf), not iat against its clock: +300 s still signs in.
    await admin(idp, 'DELETE', 'faults');
    const signedIn = await login(rp.config);
    assert.ok(((signedIn.claims()?.iat as number) ?? 0) > Date.now() / 1000 + 290);
  });
});

describe('dev IdP faults: key-rotation', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  afterEach(() => admin(idp, 'DELETE', 'faults'));

  const kids = async () =>
    ((await getJson(`${idp.issuer}/jwks`)).json.keys as Array<{ kid: string }>).map((k) => k.kid);
  const idToken = async () => {
    const res = await codeGrantRequest(idp, await authorize(rp.config));
    assert.equal(res.status, 200);
    return res.json.id_token as string;
  };
  const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid ?? '';

  it('without overlap: tokens carry a kid the JWKS lacks for publishAfter fetches, then the JWKS switches', async () => {
    idp.reset();
    const old = await idToken();
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'key-rotation', overlap: false, publishAfter: 2 }],
    });
    const fresh = await idToken();
    assert.notEqual(kidOf(fresh), kidOf(old));
    // Two JWKS answers without the new kid: a relying party cannot verify.
    await assert.rejects(verifyWithJwks(idp, fresh), joseErrors.JWKSNoMatchingKey);
    assert.ok(!(await kids()).includes(kidOf(fresh)));
    // The third publishes it, and the old key is gone (no overlap).
    const published = await kids();
    assert.ok(published.includes(kidOf(fresh)), 'new kid published');
    assert.ok(!published.includes(kidOf(old)), 'old kid dropped');
    await verifyWithJwks(idp, fresh);
    // Fired once (a rotation fires once unless nth/times say more), counted in stats.
    assert.equal(idp.stats().faults.token.fired, 1);
    const [rule] = (await admin(idp, 'GET', 'faults')).json.rules as Array<Record<string, unknown>>;
    assert.deepEqual(rule, {
      endpoint: 'token',
      kind: 'key-rotation',
      overlap: false,
      publishAfter: 2,
      times: 1,
      fired: 1,
      spent: true,
    });
    assert.equal(kidOf(await idToken()), kidOf(fresh), 'later tokens keep the new key');
  });

  it('without publishAfter the kid stays unpublished until the rule is deleted', async () => {
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'key-rotation', overlap: false }],
    });
    const fresh = await idToken();
    for (let i = 0; i < 3; i++) assert.ok(!(await kids()).includes(kidOf(fresh)));
    // The IdP itself still knows the key: end-session accepts the hint it signed.
    const end = await fetch(`${idp.issuer}/end-session?id_token_hint=${fresh}`, { redirect: 'manual' });
    assert.ok(end.status < 400, `end-session answered ${end.status}`);
    await admin(idp, 'DELETE', 'faults');
    assert.ok((await kids()).includes(kidOf(fresh)));
    await verifyWithJwks(idp, fresh);
  });

  it('with overlap: the new key is published at once and tokens signed before still verify', async () => {
    const old = await idToken();
    const jwksBefore = await getJson(`${idp.issuer}/jwks`);
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'token', kind: 'key-rotation', overlap: true }],
    });
    const fresh = await idToken();
    assert.notEqual(kidOf(fresh), kidOf(old));
    const now = await kids();
    assert.ok(now.includes(kidOf(fresh)) && now.includes(kidOf(old)), 'both published');
    await verifyWithJwks(idp, fresh);
    await verifyWithJwks(idp, old);
    // A relying party that cached the JWKS before the rotation: unknown kid, so it must refetch.
    const cached = createLocalJWKSet(jwksBefore.json as never);
    await assert.rejects(jwtVerify(fresh, cached), joseErrors.JWKSNoMatchingKey);
  });

  it('on the jwks endpoint with nth: the Nth JWKS answer is the first with the new key', async () => {
    await admin(idp, 'POST', 'faults', {
      rules: [{ endpoint: 'jwks', kind: 'key-rotation', overlap: true, nth: 2 }],
    });
    idp.reset();
    const first = await kids();
    const second = await kids();
    assert.ok(
      !first.includes(second[0] ?? '') && !first.includes(second[1] ?? ''),
      'a new RS256 + ES256 pair',
    );
    assert.deepEqual(second.slice(2), first.slice(0, 2), 'current first, the old pair after it');
    assert.deepEqual(await kids(), second, 'fired once');
    assert.equal(idp.stats().faults.jwks.fired, 1);
  });
});

describe('dev IdP faults: clock-skew and key-rotation rules', () => {
  const idp = useTestIdp();

  it('refuses bad rules with 400 naming the field', async () => {
    const bad = async (rule: unknown, field: RegExp) => {
      const res = await admin(idp, 'POST', 'faults', { rules: [rule] });
      assert.equal(res.status, 400, JSON.stringify(rule));
      assert.match(String(res.json.error_description), field);
    };
    await bad({ endpoint: 'token', kind: 'clock-skew' }, /rules\[0\]\.skewSeconds is required/);
    await bad(
      { endpoint: 'token', kind: 'clock-skew', skewSeconds: 86_401 },
      /rules\[0\]\.skewSeconds must be an integer from -86400 to 86400/,
    );
    await bad({ endpoint: 'token', kind: 'clock-skew', skewSeconds: 1.5 }, /rules\[0\]\.skewSeconds/);
    await bad({ endpoint: 'token', skewSeconds: 30 }, /rules\[0\]\.skewSeconds needs kind clock-skew/);
    await bad({ endpoint: 'token', kind: 'key-rotation' }, /rules\[0\]\.overlap must be true or false/);
    await bad({ endpoint: 'token', kind: 'key-rotation', overlap: 'yes' }, /rules\[0\]\.overlap/);
    await bad(
      { endpoint: 'userinfo', kind: 'key-rotation', overlap: true },
      /rules\[0\]\.endpoint must be token or jwks/,
    );
    await bad(
      { endpoint: 'token', kind: 'key-rotation', overlap: true, publishAfter: 1 },
      /rules\[0\]\.publishAfter needs/,
    );
    await bad(
      { endpoint: 'token', kind: 'status', overlap: true },
      /rules\[0\]\.overlap needs kind key-rotation/,
    );
    assert.deepEqual((await admin(idp, 'GET', 'faults')).json.rules, []);
  });

  it('--fault and startDevIdp({faults}) take the same rules', async () => {
    const parsed = parseDevIdpArgs([
      '--fault',
      'endpoint=token,kind=clock-skew,skewSeconds=-300',
      '--fault',
      'endpoint=jwks,kind=key-rotation,overlap=false,publishAfter=2,nth=3',
      '--profile',
      'clock-skew',
    ]);
    assert.equal(parsed.help, false);
    if (parsed.help) return;
    assert.deepEqual(parsed.options.faults, [
      { endpoint: 'token', kind: 'clock-skew', skewSeconds: -300 },
      { endpoint: 'jwks', kind: 'key-rotation', overlap: false, publishAfter: 2, nth: 3 },
    ]);
    assert.throws(
      () => parseDevIdpArgs(['--fault', 'endpoint=token,kind=clock-skew,skewSeconds=lots']),
      /--fault: skewSeconds must be an integer/,
    );
    assert.throws(
      () => parseDevIdpArgs(['--fault', 'endpoint=token,kind=key-rotation,overlap=maybe']),
      /--fault: overlap must be true or false/,
    );
    await assert.rejects(
      startTestIdp({ faults: [{ endpoint: 'token', kind: 'clock-skew' }] }),
      /faults\[0\]\.skewSeconds is required/,
    );
    const other = await startTestIdp({ faults: [{ endpoint: 'jwks', kind: 'key-rotation', overlap: true }] });
    try {
      const a = (await getJson(`${other.issuer}/jwks`)).json.keys as unknown[];
      assert.equal(a.length, 4, 'the first JWKS answer already has both generations');
      assert.equal(other.stats().faults.jwks.fired, 1);
    } finally {
      await other.stop();
    }
  });
});
