import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  admin,
  authorizationRequest,
  claimsOf,
  client,
  login,
  useRelyingParty,
  userinfo,
  useTestIdp,
} from './helpers.js';

/** Per-test claims (POST /__admin/claims, DevIdp.setClaims) and runtime users (POST /__admin/users). */
describe('per-test claims', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  it('a user rule lands in the ID token, userinfo and refreshed ID tokens of that session', async () => {
    await admin(idp, 'DELETE', 'claims');
    const set = await admin(idp, 'POST', 'claims', {
      user: 'alice',
      claims: { department: 'sales', name: 'Alice Override' },
    });
    assert.equal(set.status, 200);
    const tokens = await login(rp.config);
    const id = claimsOf(tokens.id_token);
    assert.equal(id.department, 'sales');
    assert.equal(id.name, 'Alice Override');
    assert.equal(id.sub, 'usr_alice');
    const info = await userinfo(idp, tokens.access_token);
    assert.equal(info.json.department, 'sales');
    assert.equal(info.json.name, 'Alice Override');
    await admin(idp, 'DELETE', 'claims');
    // The session keeps what it got at login, even after the rule is gone.
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token ?? '');
    assert.equal(claimsOf(refreshed.id_token).department, 'sales');
    // ...while a new login no longer gets them.
    assert.equal(claimsOf((await login(rp.config)).id_token).department, undefined);
  });

  it('logins: 1 applies to one login, then reverts; GET lists what is pending', async () => {
    await admin(idp, 'DELETE', 'claims');
    await admin(idp, 'POST', 'claims', { user: 'alice', claims: { tier: 'gold' }, logins: 1 });
    const pending = await admin(idp, 'GET', 'claims');
    assert.deepEqual(pending.json.claims, [{ user: 'alice', claims: { tier: 'gold' }, logins: 1 }]);
    assert.equal(claimsOf((await login(rp.config)).id_token).tier, 'gold');
    assert.equal(claimsOf((await login(rp.config)).id_token).tier, undefined);
    assert.deepEqual((await admin(idp, 'GET', 'claims')).json.claims, []);
  });

  it('a rule without user applies to anyone for the next N logins; a user rule skips others', async () => {
    await admin(idp, 'DELETE', 'claims');
    await admin(idp, 'POST', 'claims', { claims: { beta: true }, logins: 2 });
    await admin(idp, 'POST', 'claims', { user: 'alice', claims: { only: 'alice' } });
    const bob = claimsOf((await login(rp.config, { login_hint: 'bob' })).id_token);
    assert.equal(bob.beta, true);
    assert.equal(bob.only, undefined);
    assert.equal(claimsOf((await login(rp.config)).id_token).beta, true);
    assert.equal(claimsOf((await login(rp.config, { login_hint: 'carol' })).id_token).beta, undefined);
    await admin(idp, 'DELETE', 'claims');
  });

  it('protected claims, bad shapes and unknown users are refused with 400 and a reason', async () => {
    const protectedClaims = await admin(idp, 'POST', 'claims', {
      user: 'alice',
      claims: { iss: 'x', sub: 'y', department: 'ok' },
    });
    assert.equal(protectedClaims.status, 400);
    assert.match(String(protectedClaims.json.error_description), /protected claims.*iss, sub/);
    for (const [body, reason] of [
      [{ user: 'alice', claims: [1] }, /JSON object/],
      [{ claims: { a: 1 } }, /logins/],
      [{ user: 'alice', claims: { a: 1 }, logins: 0 }, /positive integer/],
      [{ user: 'mallory', claims: { a: 1 } }, /no user named "mallory"/],
      [JSON.parse('{"user":"alice","claims":{"__proto__":{"admin":true}}}'), /__proto__/],
      [{ user: 'alice', claims: { big: 'x'.repeat(20_000) } }, /exceed/],
    ] as const) {
      const res = await admin(idp, 'POST', 'claims', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.match(String(res.json.error_description), reason);
    }
    assert.deepEqual((await admin(idp, 'GET', 'claims')).json.claims, []);
    assert.throws(
      () => idp.setClaims({ user: 'alice', claims: { aud: 'x' } }),
      /protected claims cannot be set: aud/,
    );
  });

  it('pending rules are capped', async () => {
    await admin(idp, 'DELETE', 'claims');
    for (let i = 0; i < 100; i++) idp.setClaims({ user: 'carol', claims: { n: i }, logins: 1 });
    const over = await admin(idp, 'POST', 'claims', { user: 'carol', claims: { n: 100 }, logins: 1 });
    assert.equal(over.status, 400);
    assert.match(String(over.json.error_description), /at most 100/);
    idp.clearClaims();
    assert.deepEqual(idp.pendingClaims(), []);
  });

  it('DevIdp.setClaims works in-process like the admin API', async () => {
    idp.setClaims({ user: 'alice', claims: { via: 'library' }, logins: 1 });
    assert.equal(idp.pendingClaims().length, 1);
    const tokens = await login(rp.config);
    assert.equal(claimsOf(tokens.id_token).via, 'library');
    assert.equal((await userinfo(idp, tokens.access_token)).json.via, 'library');
    assert.deepEqual(idp.pendingClaims(), []);
  });
});

describe('runtime users', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);
  const dave = {
    sub: 'usr_dave',
    username: 'dave',
    email: 'dave@example.com',
    name: 'Dave Newcomer',
    groups: ['qa'],
    roles: [],
  };

  it('POST /__admin/users adds a user who can log in at once', async () => {
    const added = await admin(idp, 'POST', 'users', dave);
    assert.equal(added.status, 201);
    const tokens = await login(rp.config, { login_hint: 'dave' });
    const id = claimsOf(tokens.id_token);
    assert.equal(id.sub, 'usr_dave');
    assert.deepEqual(id.groups, ['qa']);
    const listed = await admin(idp, 'GET', 'users');
    assert.ok((listed.json.users as { username: string }[]).some((u) => u.username === 'dave'));
  });

  it('a duplicate username or sub is 409, a bad entry 400 with the reason', async () => {
    const dup = await admin(idp, 'POST', 'users', { ...dave, sub: 'usr_other', username: 'ALICE' });
    assert.equal(dup.status, 409);
    assert.match(String(dup.json.error_description), /"ALICE" exists/);
    assert.equal((await admin(idp, 'POST', 'users', { ...dave, username: 'dave2' })).status, 409);
    const bad = await admin(idp, 'POST', 'users', { username: 'eve' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error_description), /invalid user.*sub/s);
    assert.throws(() => idp.addUser({ ...dave, sub: 'usr_x' }), /exists already/);
  });
});

describe('login page extra claims', () => {
  const idp = useTestIdp({ autoLogin: undefined });
  const rp = useRelyingParty(idp);

  async function openPage() {
    const { url, verifier, state, nonce } = await authorizationRequest(rp.config, {}, 'openid email profile');
    const res = await fetch(url, { redirect: 'manual' });
    const html = await res.text();
    const interaction = /name="interaction" value="([^"]+)"/.exec(html)?.[1] ?? '';
    return { html, interaction, verifier, state, nonce };
  }

  function post(form: Record<string, string>): Promise<Response> {
    return fetch(`${idp.issuer}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
  }

  it('DevIdp.addUser adds a user the login page lists', async () => {
    idp.addUser({
      sub: 'usr_erin',
      username: 'erin',
      email: 'erin@example.com',
      name: 'Erin',
      groups: [],
      roles: [],
    });
    const { html } = await openPage();
    assert.match(html, /name="user" value="erin"/);
  });

  it('has a labelled optional claims field in both login forms', async () => {
    const { html } = await openPage();
    assert.match(html, /<label for="claims-pick">/);
    assert.match(html, /<textarea id="claims-pick" name="claims"/);
    assert.match(html, /<textarea id="claims-type" name="claims"/);
  });

  it('valid JSON claims go into this login only', async () => {
    const page = await openPage();
    const res = await post({ interaction: page.interaction, user: 'bob', claims: '{"team":"red"}' });
    assert.equal(res.status, 302);
    const tokens = await client.authorizationCodeGrant(
      rp.config,
      new URL(res.headers.get('location') ?? ''),
      {
        pkceCodeVerifier: page.verifier,
        expectedState: page.state,
        expectedNonce: page.nonce,
      },
    );
    assert.equal(claimsOf(tokens.id_token).team, 'red');
    assert.equal((await userinfo(idp, tokens.access_token)).json.team, 'red');
  });

  it('invalid JSON or a protected claim answers a 400 page with the reason; the page stays usable', async () => {
    const page = await openPage();
    const bad = await post({ interaction: page.interaction, user: 'bob', claims: '{"team":' });
    assert.equal(bad.status, 400);
    const html = await bad.text();
    assert.match(html, /role="alert">Extra claims: not valid JSON/);
    assert.match(html, /name="claims"[^>]*>\{&[a-z#0-9]+;team&[a-z#0-9]+;:<\/textarea>/);
    const prot = await post({ interaction: page.interaction, user: 'bob', claims: '{"nonce":"x"}' });
    assert.equal(prot.status, 400);
    assert.match(await prot.text(), /protected claims cannot be set: nonce/);
    const arr = await post({ interaction: page.interaction, user: 'bob', claims: '[1]' });
    assert.equal(arr.status, 400);
    assert.equal((await post({ interaction: page.interaction, user: 'bob' })).status, 302);
  });
});
