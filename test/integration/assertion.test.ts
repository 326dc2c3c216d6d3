import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  jwtVerify,
} from 'jose';
import { ManualClock } from '../../src/util/clock.js';
import { basicAuth, tokenRequest } from '../devidp/helpers.js';
import {
  type AssertionUpstream,
  type AssertionVerdict,
  startAssertionUpstream,
} from '../helpers/assertionUpstream.js';
import { TestBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { login, type Stack, type StackConfig, startStack, TEST_SECRET } from '../helpers/stack.js';

/**
 * X-Gatehouse-Assertion (issue 13 part 4, docs/assertion.md): an application behind the reverse
 * proxy verifies who the user is with jose against /oauth2/jwks, and nothing a client sends can
 * stand in for it.
 */

async function signedIn(s: Stack, user = 'alice'): Promise<TestBrowser> {
  const b = new TestBrowser();
  const hops = await login(s, b, { user });
  assert.equal(hops.at(-1)?.status, 200, hops.at(-1)?.body);
  return b;
}

async function through(b: TestBrowser, url: string, headers: Record<string, string> = {}) {
  const r = await b.request(url, { kind: 'api', headers });
  assert.equal(r.status, 200, r.body);
  return r.json<AssertionVerdict>();
}

/** The same JWT with one character of its payload changed (still valid base64url). */
function tampered(jwt: string): string {
  const [h, p, sig] = jwt.split('.') as [string, string, string];
  const i = Math.floor(p.length / 2);
  const c = p[i] === 'A' ? 'B' : 'A';
  return `${h}.${p.slice(0, i)}${c}${p.slice(i + 1)}.${sig}`;
}

const BOT = { id: 'ci-bot', secret: 'ci-bot-secret', scopes: ['api:read'], audience: 'gatehouse-api' };

describe('X-Gatehouse-Assertion with a generated key (memory store)', () => {
  let up: AssertionUpstream;
  let s: Stack;
  const clock = new ManualClock();
  before(async () => {
    up = await startAssertionUpstream();
    s = await startStack({
      clock,
      idp: { clients: [BOT] },
      config: {
        upstream: up.url,
        skipAuth: ['/public'],
        headers: { assertion: true, assertionLifetimeSeconds: 60 },
        bearer: { accept: ['jwt'], audiences: ['gatehouse-api'] },
      } as StackConfig,
    });
    up.trust(s.cfg.publicUrl);
  });
  after(async () => {
    await s?.close();
    await up?.close();
  });

  it('the upstream verifies it against /oauth2/jwks: iss = publicUrl, aud = default, sub/email/groups', async () => {
    const b = await signedIn(s);
    const v = await through(b, `${s.url}/app`);
    assert.ok(v.ok, v.error);
    assert.equal(v.payload?.iss, s.cfg.publicUrl);
    assert.equal(v.payload?.aud, 'default');
    assert.equal(v.payload?.sub, 'usr_alice');
    assert.equal(v.payload?.email, 'alice@example.com');
    assert.deepEqual(v.payload?.groups, ['admins', 'dev']);
    assert.equal(v.payload?.name, undefined, 'name is not in the default assertionClaims');
    assert.equal(v.payload!.exp! - v.payload!.iat!, 60);
    assert.equal(v.header?.alg, 'ES256');
    assert.equal(v.header?.typ, 'JWT');
    const jwks = (await (await fetch(`${s.url}/oauth2/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [v.header?.kid],
    );
  });

  it('a tampered assertion, or one checked for another audience, does not verify', async () => {
    const b = await signedIn(s, 'bob');
    const v = await through(b, `${s.url}/app`);
    assert.ok(v.ok, v.error);
    const jwks = createRemoteJWKSet(new URL(`${s.cfg.publicUrl}/oauth2/jwks`));
    const opts = { issuer: s.cfg.publicUrl, audience: 'default' };
    await jwtVerify(v.assertion!, jwks, opts);
    await assert.rejects(jwtVerify(tampered(v.assertion!), jwks, opts), {
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
    await assert.rejects(jwtVerify(v.assertion!, jwks, { ...opts, audience: 'grafana' }), {
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
    });
  });

  it('/oauth2/jwks is JSON with Cache-Control max-age=300', async () => {
    const r = await fetch(`${s.url}/oauth2/jwks`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.match(String(r.headers.get('cache-control')), /(^|[ ,])max-age=300($|,)/);
    const body = (await r.json()) as { keys: Array<Record<string, unknown>> };
    assert.equal(body.keys.length, 1);
    assert.equal(body.keys[0]!.d, undefined, 'no private part is published');
    assert.equal(body.keys[0]!.use, 'sig');
    const post = await fetch(`${s.url}/oauth2/jwks`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it("a client's X-Gatehouse-Assertion never reaches the upstream, signed in or on a skipAuth path", async () => {
    const b = await signedIn(s, 'bob');
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfYWxpY2UifQ.';
    for (const name of ['X-Gatehouse-Assertion', 'x_gatehouse_assertion']) {
      const v = await through(b, `${s.url}/app`, { [name]: forged });
      assert.notEqual(v.assertion, forged);
      assert.ok(v.ok, v.error);
      assert.equal(v.payload?.sub, 'usr_bob');
      assert.equal(v.headers.x_gatehouse_assertion, undefined);
    }
    const anon = await new TestBrowser().request(`${s.url}/public/x`, {
      kind: 'api',
      headers: { 'X-Gatehouse-Assertion': forged },
    });
    assert.equal(anon.status, 200, anon.body);
    assert.equal(anon.json<AssertionVerdict>().assertion, undefined);
  });

  it('one session reuses its assertion while more than half its lifetime is left, then gets a new one', async () => {
    const b = await signedIn(s);
    const first = (await through(b, `${s.url}/app`)).assertion;
    const second = (await through(b, `${s.url}/other`)).assertion;
    assert.equal(second, first, 'the same string: not signed again');
    clock.advance(29_000);
    assert.equal((await through(b, `${s.url}/app`)).assertion, first, '31 s of 60 left');
    clock.advance(2_000);
    const renewed = await through(b, `${s.url}/app`);
    assert.notEqual(renewed.assertion, first, '29 s of 60 left: signed again');
    assert.ok(renewed.ok, renewed.error);
    // Another session has its own.
    const other = (await through(await signedIn(s), `${s.url}/app`)).assertion;
    assert.notEqual(other, renewed.assertion);
  });

  it('forward-auth (/oauth2/auth) answers the assertion for the proxy to pass on', async () => {
    const b = await signedIn(s, 'bob');
    const r = await b.request(`${s.url}/oauth2/auth`, {
      kind: 'api',
      headers: {
        'x-original-uri': '/app',
        'x-forwarded-method': 'GET',
        'x-forwarded-host': new URL(s.url).host,
        'x-forwarded-proto': 'http',
      },
    });
    assert.equal(r.status, 202, r.body);
    const token = String(r.headers['x-gatehouse-assertion']);
    const jwks = createRemoteJWKSet(new URL(`${s.cfg.publicUrl}/oauth2/jwks`));
    const { payload } = await jwtVerify(token, jwks, { issuer: s.cfg.publicUrl, audience: 'default' });
    assert.equal(payload.sub, 'usr_bob');
  });

  it('a bearer request gets one too, reused for the same token', async () => {
    const t = await tokenRequest(
      s.idp,
      { grant_type: 'client_credentials', scope: 'api:read' },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    assert.equal(t.status, 200, JSON.stringify(t.json));
    const api = new TestBrowser();
    const auth = { authorization: `Bearer ${String(t.json.access_token)}` };
    const v = await through(api, `${s.url}/api`, auth);
    assert.ok(v.ok, v.error);
    assert.equal(v.payload?.aud, 'default');
    assert.equal(v.headers['x-forwarded-user'], 'ci-bot');
    assert.equal(typeof v.payload?.sub, 'string');
    assert.equal((await through(api, `${s.url}/api`, auth)).assertion, v.assertion);
  });

  // Last in this suite: it moves the gateway's clock past the access token's lifetime.
  it('a refresh that drops a group: the next request gets a new assertion with the new groups', async () => {
    const b = await signedIn(s);
    const before = await through(b, `${s.url}/app`);
    assert.deepEqual(before.payload?.groups, ['admins', 'dev']);
    s.idp.setProfiles(['refresh-loses-group']);
    try {
      clock.advance(301_000); // the dev IdP's access tokens live 300 s: this request waits for the refresh
      const after = await through(b, `${s.url}/app`);
      assert.ok(after.ok, after.error);
      assert.notEqual(after.assertion, before.assertion);
      assert.deepEqual(after.payload?.groups, ['dev']);
    } finally {
      s.idp.setProfiles([]);
    }
  });
});

describe('X-Gatehouse-Assertion off (the default)', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(() => s?.close());

  it('no header upstream, and /oauth2/jwks is 404', async () => {
    const b = await signedIn(s);
    const r = await b.request(`${s.url}/app`, { kind: 'api' });
    assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-gatehouse-assertion'], undefined);
    assert.equal((await fetch(`${s.url}/oauth2/jwks`)).status, 404);
  });
});

describe('X-Gatehouse-Assertion with key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-assertion-'));
  const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const oldEc = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const oldEd = generateKeyPairSync('ed25519').privateKey;
  const files = {
    signing: join(dir, 'assertion.pem'),
    oldPublicPem: join(dir, 'old-public.pem'),
    oldPrivateJwk: join(dir, 'old-private.jwk'),
  };
  writeFileSync(files.signing, signing.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(files.oldPublicPem, oldEc.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(files.oldPrivateJwk, JSON.stringify(oldEd.export({ format: 'jwk' })));
  let up: AssertionUpstream;
  let s: Stack;
  before(async () => {
    up = await startAssertionUpstream();
    s = await startStack({
      config: {
        upstream: up.url,
        headers: {
          assertion: true,
          assertionKeyFile: files.signing,
          assertionPreviousKeyFiles: [files.oldPublicPem, files.oldPrivateJwk],
          assertionClaims: ['preferred_username', 'email', 'name', 'roles'],
        },
      } as StackConfig,
    });
    up.trust(s.cfg.publicUrl);
  });
  after(async () => {
    await s?.close();
    await up?.close();
  });

  const kidOf = async (k: Parameters<typeof exportJWK>[0]) => calculateJwkThumbprint(await exportJWK(k));

  it("signs with the key file's key (its kid), publishes the previous keys too but never signs with them", async () => {
    const jwks = (await (await fetch(`${s.url}/oauth2/jwks`)).json()) as {
      keys: Array<{ kid: string; alg: string; d?: string }>;
    };
    const signingKid = await kidOf(signing);
    assert.deepEqual(
      jwks.keys.map((k) => [k.kid, k.alg]),
      [
        [signingKid, 'ES256'],
        [await kidOf(oldEc.publicKey), 'ES256'],
        [await kidOf(oldEd), 'EdDSA'],
      ],
    );
    assert.ok(jwks.keys.every((k) => k.d === undefined));
    const b = await signedIn(s, 'alice');
    const v = await through(b, `${s.url}/app`);
    assert.ok(v.ok, v.error);
    assert.equal(decodeProtectedHeader(v.assertion!).kid, signingKid);
    // assertionClaims chose these, and no sub/groups.
    assert.equal(v.payload?.preferred_username, 'alice');
    assert.equal(v.payload?.name, 'Alice Admin');
    assert.deepEqual(v.payload?.roles, ['admin']);
    assert.equal(v.payload?.sub, undefined);
    assert.equal(v.payload?.groups, undefined);
    // It verifies with the file's public key alone.
    await jwtVerify(v.assertion!, createPublicKey(signing), { issuer: s.cfg.publicUrl, audience: 'default' });
  });

  it('a key file that is no private key exits 78 naming headers.assertionKeyFile and the fix', async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      [
        'publicUrl: http://127.0.0.1:4180',
        'upstream: http://127.0.0.1:9',
        'provider:',
        '  issuer: http://127.0.0.1:9',
        '  clientId: gatehouse',
        '  clientSecret: gatehouse-dev-secret',
        'session:',
        `  secret: ${TEST_SECRET}`,
        'headers:',
        '  assertion: true',
        `  assertionKeyFile: ${files.oldPublicPem}`,
        `  assertionPreviousKeyFiles: [${join(dir, 'missing.pem')}]`,
      ].join('\n'),
    );
    const r = await runCli(['serve', '--config', file]);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /headers\.assertionKeyFile: .*old-public\.pem holds no usable private key/);
    assert.match(r.stderr, /give a PEM PKCS#8 private key or a JWK; generate one with `openssl genpkey/);
    assert.match(r.stderr, /headers\.assertionPreviousKeyFiles\[0\]: cannot read .*missing\.pem \(ENOENT\)/);
  });
});
