import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { closedWithin, openRaw, type RawConnection } from '../helpers/rawHttp.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { connect, startWsUpstream } from '../helpers/websocket.js';

/** Item 4 of issue 8: slow clients are cut off, WebSockets are not; the connection count is capped. */
describe('server limits: slow clients are cut off', () => {
  let s: Stack;
  let up: Awaited<ReturnType<typeof startWsUpstream>>;
  const HEADERS_S = 3;
  const REQUEST_S = 4;
  const KEEPALIVE_S = 2;
  before(async () => {
    up = await startWsUpstream();
    s = await startStack({
      config: {
        upstream: up.url,
        server: {
          headersTimeoutSeconds: HEADERS_S,
          requestTimeoutSeconds: REQUEST_S,
          keepAliveTimeoutSeconds: KEEPALIVE_S,
        },
      } as never,
    });
  });
  after(async () => {
    await s.close();
    await up.close();
  });

  it('a client sending one header byte every 2 s is closed within the headers timeout + 3 s, while others are served', async () => {
    const slow = await openRaw(s.url);
    const started = performance.now();
    const head =
      'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    let i = 0;
    slow.socket.write(head[i++]!);
    const drip = setInterval(() => {
      if (!slow.socket.destroyed) slow.socket.write(head[i++ % head.length]!);
    }, 2000);
    try {
      // A normal client is served meanwhile.
      const ok = await new TestBrowser().request(`${s.url}/healthz`, { kind: 'api' });
      assert.equal(ok.status, 200);
      const ms = await closedWithin(slow, (HEADERS_S + 3) * 1000, 'the slowloris socket', started);
      assert.ok(ms >= HEADERS_S * 1000 - 200, `closed after ${ms} ms, before the headers timeout`);
      assert.match(slow.received(), /^HTTP\/1\.1 408 /, 'Node answers 408 before closing');
    } finally {
      clearInterval(drip);
    }
  });

  it('a body sent too slowly is cut off at requestTimeoutSeconds (head and body together)', async () => {
    const slow = await openRaw(s.url);
    const started = performance.now();
    slow.socket.write(
      'POST /oauth2/backchannel-logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nlogout_token=',
    );
    const drip = setInterval(() => {
      if (!slow.socket.destroyed) slow.socket.write('a');
    }, 500);
    try {
      const ms = await closedWithin(slow, (REQUEST_S + 3) * 1000, 'the slow upload', started);
      assert.ok(ms >= REQUEST_S * 1000 - 200, `closed after ${ms} ms, before the request timeout`);
    } finally {
      clearInterval(drip);
    }
  });

  it('an idle keep-alive connection is closed after keepAliveTimeoutSeconds', async () => {
    const c = await openRaw(s.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.until(/"status":"ok"/, 'the first answer');
    const ms = await closedWithin(c, (KEEPALIVE_S + 3) * 1000, 'the idle keep-alive connection');
    assert.ok(ms >= KEEPALIVE_S * 1000 - 200, `closed after ${ms} ms`);
  });

  it('an upgraded WebSocket idles past the headers, request and keep-alive timeouts and stays open', async () => {
    const b = new TestBrowser();
    await b.follow(`${s.url}/oauth2/start?rd=%2F`);
    const r = await connect(`${s.url.replace('http:', 'ws:')}/live`, {
      cookie: `gatehouse=${b.cookie(s.url, 'gatehouse')}`,
    });
    assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
    const ws = r.ws;
    // Idle for longer than every timeout plus two checking intervals: Node would have closed it by now.
    const idleMs = (Math.max(HEADERS_S, REQUEST_S, KEEPALIVE_S) + 2) * 1000;
    await assert.rejects(
      once(ws, 'close', { signal: AbortSignal.timeout(idleMs) }),
      { name: 'AbortError' },
      'the socket was closed while idle',
    );
    ws.send('still there?');
    const [msg] = (await once(ws, 'message')) as [Buffer];
    assert.equal(msg.toString(), 'echo:still there?');
    ws.close();
    await once(ws, 'close');
  });
});

describe('server limits: server.maxConnections', () => {
  let s: Stack;
  const MAX = 3;
  before(async () => {
    s = await startStack({ config: { server: { maxConnections: MAX } } as never });
  });
  after(() => s.close());

  const served = async (c: RawConnection) => {
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.until(/"status":"ok"/, 'a served request');
  };
  const openConnections = () =>
    new Promise<number>((resolve, reject) =>
      s.gw.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );

  it('a socket beyond the cap gets a clean 503 with Retry-After and is closed; a freed slot serves again', async () => {
    const held: RawConnection[] = [];
    for (let i = 0; i < MAX; i++) {
      const c = await openRaw(s.url);
      await served(c); // accepted and counted: kept alive
      held.push(c);
    }
    for (let i = 0; i < 3; i++) {
      const over = await openRaw(s.url);
      over.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await closedWithin(over, 5000, 'the refused socket');
      const answer = over.received();
      assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/, answer);
      assert.match(answer, /\r\nretry-after: 1\r\n/i);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.match(answer, /"error":"over_capacity"/);
    }
    assert.equal((await s.gw.metrics.connectionsRefused.get()).values[0]?.value, 3);
    const lines = s.logs.filter((l) => String(l.msg).includes('server.maxConnections reached'));
    assert.equal(lines.length, 1, 'one log line per interval, not one per socket');
    assert.equal(lines[0]!.refused, 1);
    // The held connections are still served.
    await served(held[0]!);
    // Free one slot: a new connection is served again.
    held.pop()!.socket.destroy();
    const deadline = performance.now() + 5000;
    while ((await openConnections()) >= MAX) {
      assert.ok(performance.now() < deadline, 'the freed connection is never counted out');
      await new Promise((r) => setTimeout(r, 5));
    }
    const next = await openRaw(s.url);
    await served(next);
    for (const c of [...held, next]) c.socket.destroy();
  });
});
