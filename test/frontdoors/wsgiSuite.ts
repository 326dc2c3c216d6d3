import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/stack.js';
import { startWsgiUpstream, WSGI_SMUGGLED, type WsgiEnviron, type WsgiUpstream } from '../helpers/wsgi.js';
import { type DoorStack, loginThrough, type ProxyProcess, startDoorStack } from './helpers.js';

/** Spellings a WSGI/PHP/CGI application reads as the identity and forwarding headers. */
export const SMUGGLED = WSGI_SMUGGLED;

const IDENTITY =
  /^HTTP_X_FORWARDED_(USER|GROUPS|GROUPS_TRUNCATED|EMAIL|PREFERRED_USERNAME|ACCESS_TOKEN|CLIENT_ID)$/;

/**
 * Headers that tell an upstream the request was really for another URL, host, scheme, port or
 * client (F9): Symfony/Laminas/IIS take `X-Original-URL`/`X-Rewrite-URL` over the request line,
 * Spring/Jetty/Quarkus read `Forwarded`, frameworks build URLs from `X-Forwarded-Prefix/-Port/
 * -Ssl/-Scheme/-Server`. In forward-auth the proxy, not Gatehouse, hands the client's headers
 * on: the documented config must drop every one of them (dash spellings; underscores above).
 */
export const OVERRIDES = {
  'X-Original-URL': '/admin',
  'X-Rewrite-URL': '/admin',
  'X-Original-URI': '/admin',
  'X-Original-Host': 'evil.example',
  'X-Host': 'evil.example',
  Forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
  'X-Forwarded-Uri': '/admin',
  'X-Forwarded-Method': 'DELETE',
  'X-Forwarded-Prefix': '/evil',
  'X-Forwarded-Port': '6666',
  'X-Forwarded-Ssl': 'on',
  'X-Forwarded-Scheme': 'https',
  'X-Forwarded-Server': 'evil.example',
  'X-Forwarded-Host': 'evil.example',
  'X-Forwarded-Proto': 'https',
  'X-Real-IP': '6.6.6.6',
  'X-Auth-Request-User': 'mallory',
  'X-Auth-Request-Groups': 'admins',
  'X-Auth-Request-Email': 'mallory@evil.example',
  'X-Auth-Request-Preferred-Username': 'mallory',
  'X-Auth-Request-Access-Token': 'forged',
};

/** The environ keys of OVERRIDES. */
const OVERRIDE_KEYS = Object.keys(OVERRIDES).map((k) => `HTTP_${k.toUpperCase().replace(/-/g, '_')}`);

/**
 * The documented proxy configuration in front of a real Python WSGI application (wsgiref): a
 * client's underscore/dot spellings of the identity headers must change nothing it sees.
 */
export function wsgiSmugglingSuite(
  name: string,
  start: (o: { port: number; gatehousePort: number; upstreamPort: number }) => Promise<ProxyProcess>,
): void {
  describe(`${name} in front of a WSGI application: smuggled header spellings`, () => {
    let s: DoorStack;
    let wsgi: WsgiUpstream;
    let proxy: ProxyProcess;
    before(async () => {
      const port = await freePort();
      s = await startDoorStack(port);
      wsgi = await startWsgiUpstream();
      proxy = await start({ port, gatehousePort: s.gwPort, upstreamPort: wsgi.port });
    });
    after(async () => {
      await proxy?.stop();
      await wsgi?.close();
      await s?.close();
    });

    const environOf = (body: string): WsgiEnviron => {
      try {
        return JSON.parse(body) as WsgiEnviron;
      } catch {
        throw new Error(`not the WSGI app's answer: ${body.slice(0, 300)}\n${proxy.output().slice(-2000)}`);
      }
    };

    it('bob (group dev) stays bob in dev', async () => {
      const b = new TestBrowser();
      const hops = await loginThrough(b, s.idp, `${proxy.url}/signed-in`, 'bob');
      assert.equal(hops.at(-1)!.status, 200, `login through ${name}: ${proxy.output()}`);
      const r = await b.request(`${proxy.url}/whoami`, { kind: 'api', headers: SMUGGLED });
      assert.equal(r.status, 200, r.body);
      const env = environOf(r.body);
      assert.equal(env.HTTP_X_FORWARDED_USER, 'bob', JSON.stringify(env));
      assert.equal(env.HTTP_X_FORWARDED_GROUPS, 'dev', JSON.stringify(env));
      assert.equal(env.HTTP_X_FORWARDED_EMAIL, 'bob@example.com');
      assert.equal(env.HTTP_X_FORWARDED_PREFERRED_USERNAME, 'bob');
      assert.match(env.HTTP_X_FORWARDED_ACCESS_TOKEN ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
      // a session has no OAuth client of its own: the client's X_Forwarded_Client_Id is gone
      assert.ok(!env.HTTP_X_FORWARDED_CLIENT_ID, env.HTTP_X_FORWARDED_CLIENT_ID);
      // the proxy's peer (the documented nginx block sets it, Caddy does not), never the client's
      assert.ok([undefined, '127.0.0.1'].includes(env.HTTP_X_REAL_IP), env.HTTP_X_REAL_IP);
      // the proxy's own, never the client's
      assert.notEqual(env.HTTP_X_FORWARDED_HOST, SMUGGLED.X_Forwarded_Host);
      assert.ok([undefined, new URL(proxy.url).host].includes(env.HTTP_X_FORWARDED_HOST));
      // and /admin stays closed to him
      assert.equal((await b.request(`${proxy.url}/admin`, { kind: 'api', headers: SMUGGLED })).status, 403);
    });

    /** What of the client's OVERRIDES the application saw: only the proxy's own values may remain. */
    const overridesSeen = (env: WsgiEnviron) => {
      const host = new URL(proxy.url).host;
      const ours: Record<string, string> = {
        HTTP_X_FORWARDED_HOST: host,
        HTTP_X_FORWARDED_PROTO: 'http',
        HTTP_X_REAL_IP: '127.0.0.1',
      };
      return OVERRIDE_KEYS.filter((k) => env[k] !== undefined && env[k] !== ours[k]).map(
        (k) => `${k}=${env[k]}`,
      );
    };

    it('no URL, host, scheme, port or client override of the client reaches the application', async () => {
      const b = new TestBrowser();
      const hops = await loginThrough(b, s.idp, `${proxy.url}/signed-in`, 'bob');
      assert.equal(hops.at(-1)!.status, 200, `login through ${name}: ${proxy.output()}`);
      for (const path of ['/whoami', '/public/page']) {
        const r = await b.request(`${proxy.url}${path}`, { kind: 'api', headers: OVERRIDES });
        assert.equal(r.status, 200, `${path}: ${r.body}`);
        const env = environOf(r.body);
        assert.deepEqual(overridesSeen(env), [], `${path}: ${JSON.stringify(env)}`);
        assert.equal(env.PATH_INFO, path);
        // X-Forwarded-For: the proxy's peer is the right-most entry, whatever the client prepended
        assert.equal(env.HTTP_X_FORWARDED_FOR?.split(',').at(-1)?.trim(), '127.0.0.1', path);
      }
      const anon = await new TestBrowser().request(`${proxy.url}/public/page`, {
        kind: 'api',
        headers: OVERRIDES,
      });
      assert.deepEqual(overridesSeen(environOf(anon.body)), [], anon.body);
    });

    it('an anonymous client on a skipAuth path gets no identity', async () => {
      const r = await new TestBrowser().request(`${proxy.url}/public/page`, {
        kind: 'api',
        headers: SMUGGLED,
      });
      assert.equal(r.status, 200, r.body);
      const env = environOf(r.body);
      assert.deepEqual(
        Object.keys(env).filter((k) => IDENTITY.test(k) && env[k] !== ''),
        [],
        JSON.stringify(env),
      );
    });
  });
}
