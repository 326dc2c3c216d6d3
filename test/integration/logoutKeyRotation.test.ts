import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { login, type Stack, startStack, TestBrowser } from '../helpers/stack.js';

/**
 * Issue 10 part 7: a key rotation at the provider never fails a back-channel logout. A logout
 * token whose `kid` the gateway has not seen refetches the JWKS at once (even within jose's 30 s
 * cooldown), exactly like an ID token; forced refetches are rate limited (jwks.ts: a burst of 3,
 * then one per 20 s), so unknown kids cannot make the gateway hammer the provider.
 */
describe('back-channel logout after the provider rotates its signing keys', () => {
  let s: Stack;
  before(async () => {
    s = await startStack();
  });
  after(() => s.close());

  const jwksFetches = () => s.idp.stats().requests.jwks;
  const postLogoutToken = (token: string) =>
    new TestBrowser().request(`${s.url}/oauth2/backchannel-logout`, {
      kind: 'api',
      method: 'POST',
      body: `logout_token=${token}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

  /** A well-formed logout token for alice, signed by a key the provider never published. */
  async function tokenWithUnknownKid(): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    return new SignJWT({
      sid: 'unknown-sid',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid: `not-published-${randomUUID()}` })
      .setIssuer(s.idp.issuer)
      .setAudience('gatehouse')
      .setSubject('usr_alice')
      .setIssuedAt()
      .setJti(randomUUID())
      .sign(privateKey);
  }

  it('a logout token signed with the new key ends the session (one JWKS refetch); unknown kids after that are rate limited', async () => {
    const b = new TestBrowser();
    assert.equal((await login(s, b)).at(-1)!.status, 200);
    assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 200);
    const afterLogin = jwksFetches();

    // Within jose's cooldown (the keys were fetched a moment ago), the provider rotates.
    s.idp.rotateKeys();
    const res = await s.idp.backchannelLogout({ sub: 'usr_alice' });
    assert.deepEqual(
      res,
      { delivered: true, status: 200 },
      'the logout token signed with the new key is accepted',
    );
    assert.equal(jwksFetches() - afterLogin, 1, 'the unknown kid refetched the JWKS once');
    assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 401, 'the session has ended');

    // Forged tokens with ever new kids: the two forced refetches left in the burst, then none.
    const beforeForged = jwksFetches();
    for (let i = 0; i < 6; i++) {
      assert.equal((await postLogoutToken(await tokenWithUnknownKid())).status, 400);
    }
    assert.equal(jwksFetches() - beforeForged, 2, 'the burst of 3 forced refetches is spent, then no more');
    const spent = jwksFetches();
    assert.equal((await postLogoutToken(await tokenWithUnknownKid())).status, 400);
    assert.equal(jwksFetches(), spent, 'another unknown kid within the window fetches nothing');
  });
});
