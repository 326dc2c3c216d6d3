import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { ConfigInput } from '../../src/config/schema.js';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { ADMIN_SPELLINGS, assertRefused } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort, TEST_SECRET } from '../helpers/stack.js';
import { assertBearerRefused, SCOPED_PATH, tampered, userAccessToken } from './bearer.js';
import { DOOR_CONFIG, loginThrough } from './helpers.js';

/** What reached the application behind an embedded door. */
export type AppEcho = {
  url: string;
  headers: Record<string, string | undefined>;
  rawHeaders: string[];
  headersDistinct: Record<string, string[]>;
  gatehouse: { user: string; sub: string; groups: string[] } | null;
};

/** An application behind a door, listening. */
export interface EmbeddedApp {
  url: string;
  /** How often the application ran (a route handler, `next()`). */
  calls(): number;
  /** The door's `ready`. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * A front door inside the application's own server (the middleware, the Fastify plugin). `start`
 * runs an application behind it on `port` that answers every path with the JSON `AppEcho` of what
 * reached it, except `/public/framed`, which sets its own `X-Frame-Options: DENY` and answers
 * `ok`.
 */
export interface EmbeddedDoor {
  /**
   * How the app is handed the normalised path it was authorized on: `req.url` rewritten in place
   * (the middleware), or a redirect to it (Fastify has routed on the raw target already).
   */
  normalisedPath: 'rewritten' | 'redirected';
  start(config: ConfigInput, port: number): Promise<EmbeddedApp>;
  /**
   * Targets the framework's router refuses with its own 400 before any hook runs (Fastify: a
   * `%u` escape is not a valid URL component to it): still refused, still never reaching the
   * app, but not in Gatehouse's words.
   */
  refusedByRouter?: readonly string[];
}

/** The application's answer for `/public/framed` (see EmbeddedDoor). */
export const FRAMED_PATH = '/public/framed';

/**
 * The behaviour every embedded door must show, against the dev IdP: the same rows for the
 * middleware and the Fastify plugin (and the next door), so a door cannot drift from the others.
 */
export function embeddedDoorSuite(name: string, door: EmbeddedDoor): void {
  describe(name, () => {
    let idp: DevIdp;
    let app: EmbeddedApp;
    let url: string;

    before(async () => {
      idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      // A plain object in the YAML shape: loaded (defaults, validation) by the door.
      app = await door.start(
        {
          ...DOOR_CONFIG,
          // A templated header is Gatehouse's at this door too (headers.templates); X-Gatehouse-Assertion
          // on: the door serves its keys at /oauth2/jwks (docs/assertion.md).
          headers: {
            ...DOOR_CONFIG.headers,
            templates: { 'X-User-Email': '{{claims.email}}', 'X-Tenant': '{{claims.tid}}' },
            assertion: true,
          },
          logging: { level: 'warn' },
          publicUrl: url,
          provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
          session: { secret: TEST_SECRET },
        },
        port,
      );
      await app.ready;
    });
    after(async () => {
      await app?.close();
      await idp?.stop();
    });

    const echo = (body: string) => JSON.parse(body) as AppEcho;

    it('API call without a session: 401 JSON + WWW-Authenticate, the app is not called', async () => {
      const calls = app.calls();
      const r = await new TestBrowser().request(`${url}/api/data`, { kind: 'api' });
      assert.equal(r.status, 401);
      assert.equal(r.json().error, 'no_session');
      assert.ok(r.headers['www-authenticate']);
      assert.equal(app.calls(), calls);
    });

    it('login through the door (it serves /oauth2/*), then the app runs with the identity', async () => {
      const b = new TestBrowser();
      const hops = await loginThrough(b, idp, `${url}/dashboard?tab=1`, 'alice');
      assert.equal(hops[0]!.status, 302);
      assert.ok(hops[0]!.location!.startsWith(`${idp.issuer}/authorize`));
      const last = hops.at(-1)!;
      assert.equal(last.status, 200);
      const e = echo(last.body);
      assert.equal(e.url, '/dashboard?tab=1');
      assert.equal(e.gatehouse?.user, 'alice');
      assert.equal(e.gatehouse?.sub, 'usr_alice');
      assert.deepEqual(e.gatehouse?.groups, ['admins', 'dev']);
      assert.equal(e.headers['x-forwarded-user'], 'alice');
      assert.equal(e.headers['x-forwarded-groups'], 'admins,dev');
      assert.match(e.headers['x-forwarded-access-token'] ?? '', /^ey/);
      const info = await b.request(`${url}/oauth2/userinfo`, { kind: 'api' });
      assert.equal(info.json().user, 'alice');
    });

    it('strips spoofed identity headers and the Gatehouse cookies; keeps the app cookies', async () => {
      const b = new TestBrowser();
      await loginThrough(b, idp, `${url}/`, 'carol');
      const r = await b.request(`${url}/me`, {
        kind: 'api',
        headers: {
          'x-forwarded-user': 'root',
          'x-forwarded-groups': 'admins',
          'x-forwarded-groups-truncated': 'true',
          'x-forwarded-access-token': 'forged',
          'X-User-Email': 'root@evil.example',
          // carol has no tid claim: the template is left out, and the client's copy must not stand in
          'X-Tenant': 'forged-tenant',
          cookie: `theme=dark; gatehouse=${b.cookie(url, 'gatehouse')}; lang=en`,
        },
      });
      const e = echo(r.body);
      assert.equal(e.headers['x-forwarded-user'], 'carol');
      assert.equal(e.headers['x-user-email'], 'carol@other.example');
      assert.deepEqual(e.headersDistinct['x-user-email'], ['carol@other.example']);
      assert.ok(!e.rawHeaders.includes('root@evil.example'));
      assert.equal(e.headers['x-tenant'], undefined);
      assert.ok(!e.rawHeaders.includes('forged-tenant'));
      assert.equal(e.headers['x-forwarded-groups'], undefined);
      assert.equal(e.headers['x-forwarded-groups-truncated'], undefined);
      assert.notEqual(e.headers['x-forwarded-access-token'], 'forged');
      assert.equal(e.headers.cookie, 'theme=dark; lang=en');
      // skip-auth: served without a session, identity-free
      const pub = await new TestBrowser().request(`${url}/public/x`, {
        kind: 'api',
        headers: { 'x-forwarded-user': 'root' },
      });
      assert.equal(pub.status, 200);
      assert.equal(echo(pub.body).gatehouse, null);
      assert.equal(echo(pub.body).headers['x-forwarded-user'], undefined);
    });

    it('managed headers in every spelling are gone from req.headers, rawHeaders and headersDistinct', async () => {
      const smuggled = {
        X_Forwarded_Groups: 'admins',
        X_Forwarded_User: 'mallory',
        'X-Forwarded_Email': 'mallory@evil.example',
        'X.Forwarded.User': 'mallory',
        'X-Forwarded-User': 'mallory',
        'X-Auth-Request-User': 'mallory',
        'X-Gatehouse-Thing': 'forged',
        x_real_ip: '6.6.6.6',
        'X-Real-IP': '6.6.6.6',
        'X-Forwarded-For': '6.6.6.6',
        my_header: 'dropped by default',
      };
      const b = new TestBrowser();
      await loginThrough(b, idp, `${url}/`, 'bob');
      for (const [path, who] of [
        ['/me', 'bob'],
        ['/public/x', undefined],
      ] as const) {
        const e = echo((await b.request(`${url}${path}`, { kind: 'api', headers: smuggled })).body);
        assert.equal(e.gatehouse?.user, who, path);
        const rawNames = e.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        for (const names of [Object.keys(e.headers), rawNames, Object.keys(e.headersDistinct)]) {
          const leaked = names.filter(
            (k) =>
              /[^a-z0-9-]/.test(k) ||
              k.startsWith('x-auth-request-') ||
              // The one x-gatehouse- header the app gets is Gatehouse's own assertion, for a user.
              (k.startsWith('x-gatehouse-') && !(who && k === 'x-gatehouse-assertion')),
          );
          assert.deepEqual(leaked, [], `${path}: ${names.join(' ')}`);
        }
        const rawUser =
          e.rawHeaders[e.rawHeaders.findIndex((n) => n.toLowerCase() === 'x-forwarded-user') + 1];
        assert.equal(e.headers['x-forwarded-user'], who, path);
        assert.equal(e.headersDistinct['x-forwarded-user']?.[0], who, path);
        assert.equal(who ? rawUser : undefined, who, path);
        assert.equal(e.headers['x-forwarded-groups'], who ? 'dev' : undefined, path);
        // The app has the socket: the peer is not appended, and an untrusted peer's chain is not kept.
        assert.equal(e.headers['x-forwarded-for'], undefined, path);
        assert.equal(e.headers['x-real-ip'], '127.0.0.1', path);
      }
    });

    it('securityHeaders: added before the app runs, the app may still set its own', async () => {
      const port = await freePort();
      const own = await door.start(
        {
          ...DOOR_CONFIG,
          securityHeaders: { enabled: true },
          logging: { level: 'warn' },
          publicUrl: `http://127.0.0.1:${port}`,
          provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
          session: { secret: TEST_SECRET },
        },
        port,
      );
      try {
        await own.ready;
        const plain = await new TestBrowser().request(`http://127.0.0.1:${port}/public/x`, { kind: 'api' });
        assert.equal(plain.headers['x-content-type-options'], 'nosniff');
        assert.equal(plain.headers['x-frame-options'], 'SAMEORIGIN');
        assert.equal(plain.headers['strict-transport-security'], undefined, 'no HSTS on http');
        const framed = await new TestBrowser().request(`http://127.0.0.1:${port}/public/framed`, {
          kind: 'api',
        });
        assert.equal(framed.headers['x-frame-options'], 'DENY');
      } finally {
        await own.close();
      }
    });

    it('denies with 403 (page or JSON) and hands the app the normalised path it authorized', async () => {
      const b = new TestBrowser();
      await loginThrough(b, idp, `${url}/`, 'bob');
      const calls = app.calls();
      const page = await b.request(`${url}/public/../admin`);
      assert.equal(page.status, 403);
      assert.match(page.body, /Access denied/);
      assert.equal((await b.request(`${url}//admin`, { kind: 'api' })).json().error, 'forbidden');
      assert.equal(app.calls(), calls, 'the app was never called');
      const asked = await b.request(`${url}/docs/./guide//intro?q=1`, { kind: 'api' });
      const ok =
        door.normalisedPath === 'rewritten'
          ? asked
          : await (async () => {
              // Fastify has routed on the raw target already: the app runs after a redirect to it.
              assert.equal(asked.status, 302);
              assert.equal(asked.location, '/docs/guide/intro?q=1');
              return b.request(`${url}${asked.location}`, { kind: 'api' });
            })();
      assert.equal(echo(ok.body).url, '/docs/guide/intro?q=1');
    });

    it('every spelling of /admin (raw on the socket) is 403 or 400 for bob, and the app is never called', async () => {
      const b = new TestBrowser();
      await loginThrough(b, idp, `${url}/`, 'bob');
      const api = {
        Accept: 'application/json',
        'Sec-Fetch-Mode': 'cors',
        Cookie: `gatehouse=${b.cookie(url, 'gatehouse')}`,
      };
      const calls = app.calls();
      for (const target of ADMIN_SPELLINGS) {
        const r = await rawRequest(url, target, api);
        assert.ok(r.status === 403 || r.status === 400, `${target}: ${r.status} ${r.body}`);
        if (r.status === 400) assertRefused(r, target);
      }
      for (const target of [
        '/admin#x',
        '/public\\..\\admin',
        '/public%5c..%5cadmin',
        '/admin%252f',
        // absolute form: Express routes it by its pathname (under a mount the middleware cannot
        // rewrite req.url), the gateway would have read /http:/…
        `${url}/admin`,
        'http://evil.example/admin',
        // %uXXXX: IIS/http.sys decode it
        '/public/%u002e%u002e/admin',
      ]) {
        const r = await rawRequest(url, target, api);
        if (door.refusedByRouter?.includes(target)) assert.equal(r.status, 400, `${target}: ${r.body}`);
        else assertRefused(r, target);
      }
      for (const target of ['/Admin', '/ADMIN', '/%41dmin']) {
        assert.equal((await rawRequest(url, target, api)).status, 403, target);
      }
      // refused before the door's own routes too
      assertRefused(await rawRequest(url, '/oauth2/\\metrics', api), '/oauth2/\\metrics');
      assert.equal(app.calls(), calls, 'the app was never called');
      // skipAuth opens only the exact case
      const anon = { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' };
      assert.equal((await rawRequest(url, '/PUBLIC/x', anon)).status, 401);
      const pub = await rawRequest(url, '/public/x?q=%25', anon);
      assert.equal(pub.status, 200);
      assert.equal(echo(pub.body).url, '/public/x?q=%25');
    });

    it("bearer JWT: the app runs with the identity and X-Forwarded-Client-Id (never the client's copy), no cookie", async () => {
      const token = await userAccessToken(idp, 'bob');
      for (const kind of ['api', 'navigate'] as const) {
        const r = await new TestBrowser().request(`${url}/api/reports?q=1`, {
          kind,
          headers: { authorization: `Bearer ${token}`, 'x-forwarded-client-id': 'forged-client' },
        });
        assert.equal(r.status, 200, `${kind}: ${r.body}`);
        assert.equal(r.headers['set-cookie'], undefined, kind);
        const e = echo(r.body);
        assert.equal(e.gatehouse?.sub, 'usr_bob', kind);
        assert.equal(e.headers['x-forwarded-user'], e.gatehouse?.user, kind);
        assert.equal(e.headers['x-forwarded-client-id'], 'gatehouse', kind);
      }
    });

    it('a bad bearer token: 401 invalid_token + Bearer challenge, never a login redirect, the app is not called', async () => {
      const token = tampered(await userAccessToken(idp, 'bob'));
      const calls = app.calls();
      for (const kind of ['api', 'navigate'] as const) {
        const r = await new TestBrowser().request(`${url}/dashboard`, {
          kind,
          headers: { authorization: `Bearer ${token}` },
        });
        assertBearerRefused(r, 401, 'invalid_token', kind);
      }
      const denied = await new TestBrowser().request(`${url}${SCOPED_PATH}/invoices`, {
        kind: 'navigate',
        headers: { authorization: `Bearer ${await userAccessToken(idp, 'bob')}` },
      });
      assertBearerRefused(denied, 403, 'insufficient_scope', 'requiredScopes');
      assert.equal(app.calls(), calls, 'the app was never called');
    });

    it('serves /oauth2/jwks; the app verifies the X-Gatehouse-Assertion it got, a forged one never reaches it', async () => {
      const jwks = await new TestBrowser().request(`${url}/oauth2/jwks`, { kind: 'api' });
      assert.equal(jwks.status, 200, jwks.body);
      assert.equal(jwks.headers['content-type'], 'application/json');
      assert.match(String(jwks.headers['cache-control']), /max-age=300/);
      const b = new TestBrowser();
      await loginThrough(b, idp, `${url}/`, 'bob');
      const r = await b.request(`${url}/me`, {
        kind: 'api',
        headers: { 'x-gatehouse-assertion': 'forged' },
      });
      const got = echo(r.body).headers['x-gatehouse-assertion'];
      assert.ok(got && got !== 'forged', 'ours replaced the client one');
      const { payload } = await jwtVerify(got, createRemoteJWKSet(new URL(`${url}/oauth2/jwks`)), {
        issuer: url,
        audience: 'default',
      });
      assert.equal(payload.sub, 'usr_bob');
    });

    it('logout through the door ends the session', async () => {
      const b = new TestBrowser();
      await loginThrough(b, idp, `${url}/`, 'bob');
      const hops = await b.follow(`${url}/oauth2/logout`, {
        first: { headers: { 'sec-fetch-site': 'same-origin' } },
      });
      assert.match(hops.at(-1)!.body, /signed out/i);
      assert.equal((await b.request(`${url}/api/me`, { kind: 'api' })).status, 401);
    });
  });
}
