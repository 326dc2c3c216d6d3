import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { openRaw } from '../helpers/rawHttp.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { closedBy, connect, startUpgradeAnyUpstream, startWsUpstream } from '../helpers/websocket.js';

describe('WebSocket upgrades', () => {
  let s: Stack;
  let up: Awaited<ReturnType<typeof startWsUpstream>>;
  let cookie: string;
  before(async () => {
    up = await startWsUpstream();
    s = await startStack({
      config: {
        upstream: up.url,
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
      } as never,
    });
    const b = new TestBrowser();
    await b.follow(`${s.url}/oauth2/start?rd=%2F`, {
      rewrite: (u) => (u.startsWith(`${s.idp.issuer}/authorize`) ? `${u}&login_hint=bob` : u),
    });
    cookie = `gatehouse=${b.cookie(s.url, 'gatehouse')}`;
  });
  after(async () => {
    await s.close();
    await up.close();
  });

  const wsUrl = (path: string) => `${s.url.replace('http:', 'ws:')}${path}`;

  it('refuses an upgrade without a session with 401 JSON, never a redirect', async () => {
    const r = await connect(wsUrl('/live'), {});
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body!).error, 'no_session');
  });

  it('proxies an authenticated socket with the identity headers, and strips spoofed ones and our cookie', async () => {
    const r = await connect(wsUrl('/live?x=1'), {
      cookie: `${cookie}; theme=dark`,
      'x-forwarded-user': 'mallory',
    });
    assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
    r.ws.send('hello');
    const [msg] = (await once(r.ws, 'message')) as [Buffer];
    assert.equal(msg.toString(), 'echo:hello');
    const h = up.seen.at(-1)!;
    assert.equal(h['x-forwarded-user'], 'bob');
    assert.equal(h['x-forwarded-groups'], 'dev');
    assert.equal(h.cookie, 'theme=dark');
    r.ws.close();
    await once(r.ws, 'close');
  });

  it('tunnels a WebSocket handshake whatever the case of `Upgrade: WebSocket`', async () => {
    const c = await openRaw(s.url);
    c.socket.write(
      `GET /live HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\nCookie: ${cookie}\r\nUpgrade: WebSocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await c.until(/\r\n\r\n/, 'the handshake answer');
    assert.match(c.received(), /^HTTP\/1\.1 101 /);
    assert.match(c.received(), /\r\nupgrade: websocket\r\n/i);
    c.socket.destroy();
  });

  it('applies authorization rules to upgrades (403)', async () => {
    const r = await connect(wsUrl('/admin/live'), { cookie });
    assert.equal(r.status, 403);
  });

  it('answers 502 when the upstream is gone', async () => {
    await up.close();
    const r = await connect(wsUrl('/live'), { cookie });
    assert.equal(r.status, 502);
  });
});

/**
 * An open socket stays bound to its session: it is closed when the session ends (logout,
 * back-channel logout, expiry, a failed refresh) or loses access, on this replica or — through
 * the store's change events — on another (test/redis covers that), and kept through an IdP outage.
 */
describe('WebSockets end with their session', () => {
  let up: Awaited<ReturnType<typeof startWsUpstream>>;
  before(async () => {
    up = await startWsUpstream();
  });
  after(() => up.close());

  /** A stack on a driven clock with one logged-in browser and one open socket on `path`. */
  async function withSocket(
    config: Record<string, unknown>,
    fn: (x: { s: Stack; b: TestBrowser; ws: WebSocket; clock: ManualClock }) => Promise<void>,
    path = '/live',
  ) {
    const clock = new ManualClock();
    const s = await startStack({
      clock,
      config: {
        upstream: up.url,
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
        ...config,
      } as never,
    });
    try {
      const b = new TestBrowser();
      await login(s, b);
      const r = await connect(`${s.url.replace('http:', 'ws:')}${path}`, {
        cookie: `gatehouse=${b.cookie(s.url, 'gatehouse')}`,
      });
      assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
      assert.equal(s.gw.openSockets.size, 1);
      await fn({ s, b, ws: r.ws, clock });
    } finally {
      await s.close();
    }
  }

  const closed = (ws: WebSocket) => closedBy(ws, 'its session ended');

  async function stillOpen(ws: WebSocket) {
    ws.send('ping');
    const [msg] = (await once(ws, 'message')) as [Buffer];
    assert.equal(msg.toString(), 'echo:ping');
  }

  it('logout in another request closes the open socket at once', async () => {
    await withSocket({}, async ({ s, b, ws }) => {
      await stillOpen(ws);
      assert.equal((await b.request(`${s.url}/oauth2/logout`, { method: 'POST' })).status, 303);
      await closed(ws);
      assert.equal(s.gw.openSockets.size, 0);
      const m = await s.gw.metrics.registry.metrics(); // the metrics listener's registry
      assert.match(m, /gatehouse_websockets_ended_total\{status="401"\} 1/);
    });
  });

  it('back-channel logout from the IdP closes the open socket', async () => {
    await withSocket({}, async ({ s, ws }) => {
      assert.equal((await s.idp.backchannelLogout({ sub: 'usr_alice' })).status, 200);
      await closed(ws);
    });
  });

  it('the periodic re-check closes a socket whose session has expired, and keeps a live one', async () => {
    await withSocket(
      { session: { maxAgeSeconds: 3600, websocketRecheckSeconds: 3600 } },
      async ({ s, ws, clock }) => {
        await s.gw.openSockets.recheck(); // nothing changed: the socket stays
        await stillOpen(ws);
        clock.advance(3601_000);
        await s.gw.openSockets.recheck();
        await closed(ws);
      },
    );
  });

  it('a refresh that drops a group the path needs closes the socket (403)', async () => {
    await withSocket(
      {},
      async ({ s, ws, clock }) => {
        await stillOpen(ws);
        s.idp.setProfiles(['refresh-loses-group']);
        clock.advance(301_000); // the access token expired: the re-check refreshes it
        await s.gw.openSockets.recheck();
        await closed(ws);
        assert.equal(s.idp.stats().grants.refresh_token, 1);
      },
      '/admin/live',
    );
  });

  it('shutdown closes open sockets, also those of skip-auth paths, instead of hanging', async () => {
    const s = await startStack({ config: { upstream: up.url, skipAuth: ['/public'] } as never });
    const r = await connect(`${s.url.replace('http:', 'ws:')}/public/feed`, {});
    assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
    await stillOpen(r.ws);
    assert.equal(s.gw.openSockets.size, 1);
    await s.gw.openSockets.recheck(); // a socket without a session is never re-checked away
    await stillOpen(r.ws);
    await s.close();
    await closed(r.ws);
  });

  it('an IdP outage at refresh time keeps the socket open (503 is not an ending)', async () => {
    await withSocket({}, async ({ s, ws, clock }) => {
      s.idp.setProfiles(['token-endpoint-5xx']);
      clock.advance(301_000);
      await s.gw.openSockets.recheck();
      await stillOpen(ws);
      clock.advance(600_000); // past the outage grace: requests get 503, the socket still stays
      await s.gw.openSockets.recheck();
      await stillOpen(ws);
      assert.equal(s.gw.openSockets.size, 1);
    });
  });
});

/**
 * h2c smuggling (F10): a spliced non-WebSocket upgrade would carry every later request to the
 * upstream unchecked. Only `Upgrade: websocket` with its handshake headers is tunnelled; the
 * upstream here accepts any upgrade and echoes raw bytes, so anything spliced would show.
 */
describe('only WebSocket upgrades are tunnelled', () => {
  const H2C =
    'Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n';
  const WS_HANDSHAKE =
    'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
  const SMUGGLED = 'GET /admin HTTP/1.1\r\nHost: x\r\n\r\n';

  async function withUpstream(
    answer: string | undefined,
    fn: (x: { s: Stack; up: Awaited<ReturnType<typeof startUpgradeAnyUpstream>> }) => Promise<void>,
  ) {
    const up = await startUpgradeAnyUpstream(answer);
    const s = await startStack({
      config: {
        upstream: up.url,
        skipAuth: ['/public'],
        authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
      } as never,
    });
    try {
      await fn({ s, up });
    } finally {
      await s.close();
      await up.close();
    }
  }

  it('an h2c upgrade on a skipAuth path gets 400 with a reason and a request id; nothing reaches the upstream', async () => {
    await withUpstream(undefined, async ({ s, up }) => {
      for (const [what, headers] of [
        ['h2c', H2C],
        ['h2c, no settings', 'Upgrade: h2c\r\nConnection: Upgrade\r\n'],
        ['a list with websocket', WS_HANDSHAKE.replace('Upgrade: websocket', 'Upgrade: websocket, h2c')],
        [
          'websocket without Sec-WebSocket-Key',
          'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n',
        ],
        [
          'websocket without Sec-WebSocket-Version',
          'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
        ],
        ['a TLS upgrade', 'Upgrade: TLS/1.2\r\nConnection: Upgrade\r\n'],
      ] as const) {
        const c = await openRaw(s.url);
        c.socket.write(`GET /public/x HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\n${headers}\r\n`);
        c.socket.write(SMUGGLED);
        await c.until(/\r\n\r\n/, `${what}: the answer`);
        assert.match(c.received(), /^HTTP\/1\.1 400 /, `${what}: ${c.received()}`);
        await c.closed;
        const text = c.received();
        assert.doesNotMatch(text, /101 Switching/, what);
        const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
        assert.equal(body.error, 'unsupported_upgrade', what);
        assert.ok(body.reason, what);
        const id = /\r\nx-request-id: ([^\r]+)\r\n/.exec(text)?.[1];
        assert.equal(body.requestId, id, what);
        const line = s.logs.find((l) => l.msg === 'request' && l.reqId === id);
        assert.equal(line?.status, 400, `${what}: logged`);
        assert.equal(line?.decision, 'unsupported_upgrade', what);
      }
      assert.equal(up.upgrades.length, 0, 'the upstream saw an upgrade');
      assert.equal(up.tunnelled.length, 0, 'bytes were tunnelled');
      assert.deepEqual(up.requests, [], 'a smuggled request reached the upstream');
    });
  });

  it('HTTP2-Settings and Upgrade never reach the upstream on a plain request', async () => {
    await withUpstream(undefined, async ({ s, up }) => {
      const c = await openRaw(s.url);
      // No `Connection: Upgrade`: an ordinary request that happens to carry the h2c headers.
      c.socket.write(
        `GET /public/x HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: close\r\n\r\n`,
      );
      await c.closed;
      assert.match(c.received(), /^HTTP\/1\.1 200 /);
      assert.equal(up.requests.length, 1);
      assert.equal(up.requests[0]!.headers['http2-settings'], undefined);
      assert.equal(up.requests[0]!.headers.upgrade, undefined);
      assert.equal(up.upgrades.length, 0);
    });
  });

  it('an upstream that answers a WebSocket handshake with 101 to another protocol is not spliced (502)', async () => {
    await withUpstream('h2c', async ({ s, up }) => {
      const c = await openRaw(s.url);
      c.socket.write(`GET /public/live HTTP/1.1\r\nHost: ${new URL(s.url).host}\r\n${WS_HANDSHAKE}\r\n`);
      await c.until(/\r\n\r\n/, 'the handshake answer');
      assert.match(c.received(), /^HTTP\/1\.1 502 /, c.received());
      c.socket.write(SMUGGLED);
      await c.closed;
      assert.doesNotMatch(c.received(), /101 Switching/);
      assert.equal(up.upgrades.length, 1, 'the handshake itself went upstream');
      assert.equal(up.upgrades[0]!.upgrade, 'websocket');
      assert.equal(up.upgrades[0]!['http2-settings'], undefined);
      assert.equal(Buffer.concat(up.tunnelled).length, 0, 'client bytes reached the upstream');
    });
  });
});
