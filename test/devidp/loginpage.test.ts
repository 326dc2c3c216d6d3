import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { clearSessionCookie, sessionCookie } from '../../src/devidp/frontchannel.js';
import { authorizationRequest, client, login, REDIRECT_URI, useRelyingParty, useTestIdp } from './helpers.js';

/** The login page flow with plain fetch, as a browser without JavaScript would do it. */
describe('login page', () => {
  const idp = useTestIdp({ autoLogin: undefined });
  const rp = useRelyingParty(idp);

  interface Page {
    html: string;
    interaction: string;
    verifier: string;
    state: string;
    nonce: string;
  }

  async function openPage(params: Record<string, string> = {}): Promise<Page> {
    const { url, verifier, state, nonce } = await authorizationRequest(
      rp.config,
      params,
      'openid email profile',
    );
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    const interaction = /name="interaction" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(interaction);
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

  async function finish(page: Page, res: Response): Promise<string | undefined> {
    assert.equal(res.status, 302);
    const callback = new URL(res.headers.get('location') ?? '');
    const tokens = await client.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: page.verifier,
      expectedState: page.state,
      expectedNonce: page.nonce,
    });
    return tokens.claims()?.sub;
  }

  it('lists every user as a button and has a labelled text field', async () => {
    const { html } = await openPage();
    for (const u of ['alice', 'bob', 'carol']) assert.match(html, new RegExp(`name="user" value="${u}"`));
    assert.match(html, /<label for="username">/);
    assert.match(html, /<input id="username" name="username"/);
    assert.match(html, /<html lang="en">/);
    assert.doesNotMatch(html, /<script/i);
  });

  it('picking a user posts the form and redirects back with a code', async () => {
    const page = await openPage();
    assert.equal(await finish(page, await post({ interaction: page.interaction, user: 'bob' })), 'usr_bob');
  });

  it('typing a username (or e-mail) works too', async () => {
    const page = await openPage();
    const res = await post({ interaction: page.interaction, username: 'carol@other.example' });
    assert.equal(await finish(page, res), 'usr_carol');
  });

  it('an unknown name re-renders the page with an alert; the interaction stays usable', async () => {
    const page = await openPage();
    const res = await post({ interaction: page.interaction, username: 'mallory' });
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.match(html, /role="alert"[^>]*>No user named &#34;mallory&#34;/);
    assert.equal(
      await finish(page, await post({ interaction: page.interaction, user: 'alice' })),
      'usr_alice',
    );
  });

  it('an interaction is single-use', async () => {
    const page = await openPage();
    await finish(page, await post({ interaction: page.interaction, user: 'alice' }));
    const again = await post({ interaction: page.interaction, user: 'alice' });
    assert.equal(again.status, 400);
    assert.match(await again.text(), /expired/);
  });

  it('cancel redirects back with access_denied', async () => {
    const page = await openPage();
    const res = await post({ interaction: page.interaction, action: 'cancel' });
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), page.state);
  });

  it('login_hint prefills the field, escaped', async () => {
    const { html } = await openPage({ login_hint: '"><script>alert(1)</script>' });
    assert.doesNotMatch(html, /<script>alert/);
    assert.match(html, /value="&#34;&#62;&#60;script&#62;/);
  });

  it('prompt=none cannot succeed without a session: login_required', async () => {
    const url = client.buildAuthorizationUrl(rp.config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      prompt: 'none',
    });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(new URL(res.headers.get('location') ?? '').searchParams.get('error'), 'login_required');
  });

  /** A prompt=none request sent with `cookie`; the redirect's query and the exchanged tokens' claims. */
  async function silent(cookie: string | undefined, params: Record<string, string> = {}) {
    const { url, verifier, state, nonce } = await authorizationRequest(
      rp.config,
      { prompt: 'none', ...params },
      'openid',
    );
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    assert.equal(res.status, 302);
    const callback = new URL(res.headers.get('location') ?? '');
    assert.equal(callback.searchParams.get('state'), state);
    assert.equal(callback.searchParams.get('iss'), idp.issuer);
    const error = callback.searchParams.get('error');
    if (error !== null) return { error, sub: undefined, claims: undefined };
    const tokens = await client.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    return { error: undefined, sub: tokens.claims()?.sub, claims: tokens.claims() };
  }

  /** Logs `user` in on the login page; returns the SSO cookie (name=value) and the ID token. */
  async function ssoLogin(user: string): Promise<{ cookie: string; idToken: string }> {
    const page = await openPage();
    const res = await post({ interaction: page.interaction, user });
    const set = res.headers.get('set-cookie') ?? '';
    assert.match(
      set,
      /^gatehouse_devidp_sid=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax$/,
      'no Secure on http',
    );
    const callback = new URL(res.headers.get('location') ?? '');
    const tokens = await client.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: page.verifier,
      expectedState: page.state,
      expectedNonce: page.nonce,
    });
    return { cookie: set.split(';')[0]!, idToken: tokens.id_token ?? '' };
  }

  it('prompt=none with the SSO cookie of a login-page login: a code for that user, same sid and auth_time', async () => {
    const { cookie, idToken } = await ssoLogin('bob');
    const first = decodeJwt(idToken);
    const got = await silent(cookie);
    assert.equal(got.error, undefined);
    assert.equal(got.sub, 'usr_bob');
    assert.equal(got.claims?.sid, first.sid, 'the same IdP session');
    assert.equal(got.claims?.auth_time, first.auth_time, 'no new authentication happened');
  });

  it('prompt=none with an unknown or forged SSO cookie, or a login_hint for another user: login_required', async () => {
    assert.equal((await silent('gatehouse_devidp_sid=AAAAAAAAAAAAAAAAAAAAAA')).error, 'login_required');
    const { cookie } = await ssoLogin('carol');
    assert.equal((await silent(cookie, { login_hint: 'alice' })).error, 'login_required');
    assert.equal((await silent(cookie, { login_hint: 'carol' })).sub, 'usr_carol');
  });

  it('after end-session the SSO cookie no longer approves prompt=none, and end-session clears it', async () => {
    const { cookie } = await ssoLogin('alice');
    assert.equal((await silent(cookie)).sub, 'usr_alice');
    // The user goes to end-session directly (no hint): this browser's session ends.
    const out = await fetch(`${idp.issuer}/end-session`, { headers: { cookie }, redirect: 'manual' });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /^gatehouse_devidp_sid=; .*Max-Age=0/);
    // A browser that ignored the clearing still sends the old cookie: the session behind it is gone.
    assert.equal((await silent(cookie)).error, 'login_required');
  });

  it('an unknown or missing interaction gets the expired page', async () => {
    const forms: Record<string, string>[] = [{ interaction: 'nope', user: 'alice' }, { user: 'alice' }];
    for (const form of forms) {
      const res = await post(form);
      assert.equal(res.status, 400);
      assert.match(await res.text(), /expired/);
    }
  });
});

describe('RP-initiated logout (end_session_endpoint)', () => {
  const idp = useTestIdp();
  const rp = useRelyingParty(idp);

  async function idToken(): Promise<string> {
    return (await login(rp.config)).id_token ?? '';
  }

  it('redirects to a loopback post_logout_redirect_uri with the state', async () => {
    const url = client.buildEndSessionUrl(rp.config, {
      id_token_hint: await idToken(),
      post_logout_redirect_uri: 'http://localhost:51999/bye',
      state: 'xyz',
    });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), 'http://localhost:51999/bye?state=xyz');
  });

  it('without a redirect it shows a signed-out page', async () => {
    const res = await fetch(client.buildEndSessionUrl(rp.config, { id_token_hint: await idToken() }));
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Signed out/);
  });

  it('refuses a foreign post_logout_redirect_uri or a forged id_token_hint with a page', async () => {
    const foreign = client.buildEndSessionUrl(rp.config, {
      post_logout_redirect_uri: 'https://evil.example/',
    });
    const forged = `${await idToken()}x`;
    for (const url of [foreign, client.buildEndSessionUrl(rp.config, { id_token_hint: forged })]) {
      const res = await fetch(url, { redirect: 'manual' });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('location'), null);
      await res.text();
    }
  });
});

describe('SSO cookie attributes', () => {
  it('Secure only on an https issuer (a loopback http IdP would have its cookie dropped)', () => {
    assert.doesNotMatch(sessionCookie('http://127.0.0.1:9000', 'abcdefgh'), /Secure/);
    assert.match(sessionCookie('https://idp.example', 'abcdefgh'), /; Secure$/);
    assert.match(clearSessionCookie('https://idp.example'), /^gatehouse_devidp_sid=; .*Secure; Max-Age=0$/);
  });
});
