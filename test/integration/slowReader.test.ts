import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TestBrowser } from '../helpers/browser.js';
import { openRaw } from '../helpers/rawHttp.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/**
 * A client that asks for a large response and never reads it keeps its socket (and a slot under
 * server.maxConnections) for as long as the proxied body can wait: the server's timeouts cover
 * the request only. server.writeTimeoutSeconds cuts a connection whose answers make no progress.
 */
describe('server.writeTimeoutSeconds: a response the client stops reading is cut off', () => {
  const WRITE_S = 2;
  let s: Stack;
  let upstream: Server;
  /** Each big response the upstream starts, and the moment it was aborted (its 'close' before finishing). */
  const aborted: Array<Promise<number>> = [];

  before(async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    upstream = createServer((req, res: ServerResponse) => {
      if (req.url !== '/big') {
        res.end('small');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      aborted.push(
        new Promise((resolve) => {
          res.on('close', () => resolve(res.writableFinished ? -1 : performance.now()));
        }),
      );
      // 64 MiB with back-pressure: far more than any socket buffer.
      let left = 1024;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const port = (upstream.address() as AddressInfo).port;
    s = await startStack({
      config: {
        upstream: `http://127.0.0.1:${port}`,
        skipAuth: ['/'],
        server: { writeTimeoutSeconds: WRITE_S },
      } as never,
    });
  });
  after(async () => {
    await s.close();
    upstream.closeAllConnections();
    upstream.close();
  });

  it('a GET of a large response that is never read is cut within the write timeout + 3 s; others are served', async () => {
    const reader = await openRaw(s.url);
    reader.socket.pause();
    const started = performance.now();
    reader.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    while (aborted.length === 0) await new Promise((r) => setImmediate(r));
    // A normal client is served meanwhile.
    const ok = await new TestBrowser().request(`${s.url}/small`, { kind: 'api' });
    assert.equal(ok.status, 200);
    const bound = new Promise<number>((r) => setTimeout(() => r(-2), (WRITE_S + 3) * 1000).unref());
    const at = await Promise.race([aborted[0]!, bound]);
    assert.notEqual(at, -2, 'the stalled response was still running after the write timeout + 3 s');
    assert.ok(at - started >= WRITE_S * 1000 - 200, `cut after ${at - started} ms, before the write timeout`);
    reader.socket.destroy();
  });

  it("pipelined requests whose answers are never read (Gatehouse's own /healthz) are cut too", async () => {
    const reader = await openRaw(s.url);
    reader.socket.on('error', () => {}); // reset by the gateway's cut
    reader.socket.pause();
    const counted = async () => (await s.gw.metrics.connectionsStalled.get()).values[0]?.value ?? 0;
    const cutBefore = await counted();
    let cutNow = cutBefore;
    const poll = setInterval(() => void counted().then((n) => (cutNow = n)), 20);
    const started = performance.now();
    // Keep sending until our side backs up or the gateway cuts us: its answers do not drain, so
    // it stops reading (no request timeout can fire then) or it has already given up on us.
    const batch = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(200);
    while (!reader.socket.destroyed && reader.socket.write(batch)) {
      if (performance.now() - started > 20_000) assert.fail('the gateway kept reading for 20 s');
      await new Promise((r) => setImmediate(r));
    }
    try {
      await until(() => cutNow > cutBefore, 'the stalled connection to be cut', (WRITE_S + 3) * 1000);
    } finally {
      clearInterval(poll);
    }
    assert.ok(performance.now() - started >= WRITE_S * 1000 - 1200, 'not cut before the write timeout');
    reader.socket.destroy();
  });

  it('a client that reads slowly but steadily gets the whole body', async () => {
    const r = await new TestBrowser().request(`${s.url}/big`, { kind: 'api' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 64 * 1024 * 1024);
  });
});
