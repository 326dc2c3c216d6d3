import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { SessionRecord } from '../../src/session/record.js';
import { basicAuth, tokenRequest } from '../devidp/helpers.js';
import { TestBrowser } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { writeServeConfig } from '../helpers/config.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { connect, startWsUpstream } from '../helpers/websocket.js';

/**
 * `headers.templates` end to end: dev IdP → gateway → echo upstream, real sockets. The users get
 * odd claims from the dev IdP (setClaims); what the upstream receives is what is asserted.
 */
const TEMPLATES = {
  'X-User-Email': '{{claims.email}}',
  'X-User-Roles': "{{join claims.roles ';'}}",
  'X-Realm-Roles': '{{claims.realm_access.roles}}',
  'X-Ns-Team': '{{claims["https://example.com/org"].team}}',
  'X-Tenant': "{{default claims.tid 'none'}}",
  'X-Note': 'note={{claims.note}}',
  'X-Client': '{{claims.client_id}}',
  Authorization: 'Bearer {{accessToken}}',
};

const BOT = { id: 'ci-bot', secret: 'ci-bot-secret', scopes: ['api:read'], audience: 'grafana-api' };

type Echo = { headers: Record<string, string | undefined> };

describe('templated headers reach the upstream', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      idp: { clients: [BOT] },
      config: {
        headers: { templates: TEMPLATES },
        // Underscore headers pass here: X_User_Email must be stopped by the template rule itself.
        proxy: { allowUnderscoreHeaders: true },
        bearer: { accept: ['jwt', 'introspection'], audiences: ['grafana-api'] },
      } as never,
    });
  });
  after(() => s?.close());

  /** Signs `user` in with extra claims for that login; returns the browser and the access token issued. */
  async function signIn(user: string, claims: Record<string, unknown>) {
    s.idp.setClaims({ user, claims, logins: 1 });
    let accessToken: string | undefined;
    const stop = s.idp.onTokens((t) => {
      accessToken = t.accessToken;
    });
    const b = new TestBrowser();
    try {
      const hops = await login(s, b, { user });
      assert.equal(hops.at(-1)!.status, 200, hops.at(-1)!.body);
    } finally {
      stop();
    }
    assert.ok(accessToken);
    return { b, accessToken };
  }

  it('list claim joined, nested and namespaced claims, default, accessToken; a client copy never passes', async () => {
    const { b, accessToken } = await signIn('alice', {
      roles: ['admin', 'ops'],
      realm_access: { roles: ['realm-a', 'realm-b'] },
      'https://example.com/org': { team: 'core' },
      note: 'hello',
    });
    const r = await b.request(`${s.url}/x`, {
      headers: {
        'X-User-Email': 'mallory@evil.example',
        X_User_Email: 'mallory@evil.example',
        'X-TENANT': 'forged',
        X_Tenant: 'forged',
      },
    });
    assert.equal(r.status, 200, r.body);
    const h = r.json<Echo>().headers;
    assert.equal(h['x-user-email'], 'alice@example.com');
    assert.equal(h.x_user_email, undefined);
    assert.equal(h['x-user-roles'], 'admin;ops');
    assert.equal(h['x-realm-roles'], 'realm-a,realm-b');
    assert.equal(h['x-ns-team'], 'core');
    assert.equal(h['x-tenant'], 'none');
    assert.equal(h.x_tenant, undefined);
    assert.equal(h['x-note'], 'note=hello');
    assert.equal(h.authorization, `Bearer ${accessToken}`);
    // No client_id claim in a user's ID token: left out, and a client's copy does not stand in.
    assert.equal(h['x-client'], undefined);
    // The identity headers are still there.
    assert.equal(h['x-forwarded-user'], 'alice');
  });

  it('the record keeps only the claims the templates read; an edited one is no session', async () => {
    const { b } = await signIn('alice', { note: 'kept', tid: 't-1' });
    const key = s.gw.engine.ctx.sessions.codec.open(b.cookie(s.url, 'gatehouse')!)!;
    const rec = JSON.parse(JSON.stringify(await s.gw.store.get(key))) as SessionRecord;
    // email, roles, note, tid: read by the templates; name, groups, sub...: not kept
    assert.deepEqual(Object.keys(rec.claims ?? {}).sort(), ['email', 'note', 'roles', 'tid']);
    rec.claims!.email = 'mallory@evil.example';
    assert.ok(await s.gw.store.put(key, rec, 60_000, rec.version));
    assert.equal((await b.request(`${s.url}/x`, { kind: 'api' })).status, 401);
  });

  it('a user whose claims lack a value: that header is left out, even when the client sends one', async () => {
    const { b } = await signIn('carol', { tid: 'tenant-7' });
    const r = await b.request(`${s.url}/x`, { headers: { 'X-Note': 'forged', 'X-Realm-Roles': 'admins' } });
    assert.equal(r.status, 200, r.body);
    const h = r.json<Echo>().headers;
    assert.equal(h['x-tenant'], 'tenant-7');
    assert.equal(h['x-note'], undefined);
    assert.equal(h['x-realm-roles'], undefined);
  });

  it('CR/LF in a claim value: the header is left out, the request still 200, the value never logged', async () => {
    const { b } = await signIn('bob', { note: 'hi\r\nX-Injected: yes' });
    const r = await b.request(`${s.url}/x`);
    assert.equal(r.status, 200, r.body);
    const h = r.json<Echo>().headers;
    assert.equal(h['x-note'], undefined);
    assert.equal(h['x-injected'], undefined);
    assert.equal(h['x-user-email'], 'bob@example.com');
    const line = s.logs.find(
      (l) => l.msg === 'templated header left out' && l.header === 'x-note' && l.user === 'bob',
    );
    assert.equal(line?.reason, 'control_character');
    assert.ok(!JSON.stringify(s.logs).includes('X-Injected'), 'the value is never logged');
  });

  it('forward-auth answers the templated headers like the identity headers', async () => {
    const { b } = await signIn('alice', { roles: ['admin', 'ops'] });
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
    assert.equal(r.headers['x-user-email'], 'alice@example.com');
    assert.equal(r.headers['x-user-roles'], 'admin;ops');
    // left out: answered empty, so nginx drops it and Caddy copies no placeholder
    assert.equal(r.headers['x-note'], '');
  });

  async function machineCall() {
    const t = await tokenRequest(
      s.idp,
      { grant_type: 'client_credentials', scope: 'api:read' },
      { authorization: basicAuth(BOT.id, BOT.secret) },
    );
    assert.equal(t.status, 200, JSON.stringify(t.json));
    const token = String(t.json.access_token);
    const r = await new TestBrowser().request(`${s.url}/api`, {
      kind: 'api',
      headers: { authorization: `Bearer ${token}`, 'x-client': 'forged' },
    });
    assert.equal(r.status, 200, r.body);
    return { token, h: r.json<Echo>().headers };
  }

  it('a bearer JWT: its own claims and itself feed the templates', async () => {
    const { token, h } = await machineCall();
    assert.ok(token.includes('.'), 'a JWT');
    assert.equal(h['x-client'], 'ci-bot');
    assert.equal(h.authorization, `Bearer ${token}`);
  });

  it('an opaque bearer token: the introspection answer feeds the templates', async () => {
    s.idp.setProfiles(['opaque-access-tokens']);
    try {
      const { token, h } = await machineCall();
      assert.ok(!token.includes('.'), 'an opaque token');
      assert.equal(h['x-client'], 'ci-bot');
      assert.equal(h.authorization, `Bearer ${token}`);
    } finally {
      s.idp.setProfiles([]);
    }
  });
});

describe('templated headers on a WebSocket upgrade', () => {
  let up: Awaited<ReturnType<typeof startWsUpstream>>;
  let s: Stack;
  before(async () => {
    up = await startWsUpstream();
    s = await startStack({
      config: {
        upstream: up.url,
        headers: { templates: { 'X-User-Email': '{{claims.email}}', 'X-Tenant': '{{claims.tid}}' } },
      } as never,
    });
  });
  after(async () => {
    await s?.close();
    await up?.close();
  });

  it('the upstream sees the rendered value, never the client copy', async () => {
    const b = new TestBrowser();
    await login(s, b, { user: 'bob' });
    const r = await connect(`${s.url.replace('http:', 'ws:')}/live`, {
      cookie: `gatehouse=${b.cookie(s.url, 'gatehouse')}`,
      'X-User-Email': 'mallory@evil.example',
      'X-Tenant': 'forged',
    });
    assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
    assert.equal(up.seen.at(-1)!['x-user-email'], 'bob@example.com');
    // bob has no tid: left out, and the client's copy does not stand in
    assert.equal(up.seen.at(-1)!['x-tenant'], undefined);
    r.ws.close();
    await once(r.ws, 'close');
  });
});

describe('a bad template stops the gateway at start', () => {
  it('gatehouse serve exits 78 naming the key', async () => {
    const file = writeServeConfig([
      'headers:',
      '  templates:',
      '    X-User-Email: "{{claims.email}}"',
      `    X-User-Roles: "{{ joins claims.roles ','}}"`,
      '    Content-Length: "1"',
    ]);
    const { code, stderr } = await runCli(['serve', '--config', file]);
    assert.equal(code, 78, stderr);
    assert.match(stderr, /headers\.templates\.X-User-Roles: unknown function "joins" at column 4 — fix: /);
    assert.match(stderr, /headers\.templates\.Content-Length: Content-Length cannot be templated/);
    assert.doesNotMatch(stderr, /X-User-Email/);
  });
});
