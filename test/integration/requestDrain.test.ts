import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { describe, it } from 'node:test';
import { RequestDrain } from '../../src/http/requestDrain.js';

/** `p`, or a rejection naming `what` after `ms` (a deadline, so a hang fails instead of timing out the suite). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

describe('RequestDrain on a real server', () => {
  it('a response queued behind a pipelined one is released when its client goes (idle() resolves)', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => {};
    const three = new Promise<void>((r) => {
      arrived = r;
    });
    const server = createServer((_req, res) => {
      held.push(res); // never answered: the client leaves first
      if (held.length === 3) arrived();
    });
    const drain = new RequestDrain(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
      client.on('error', () => {});
      await once(client, 'connect');
      client.write(
        'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      await three;
      assert.equal(drain.active, 3, 'all three are in flight');
      assert.equal(held[2]!.socket, null, 'the third is queued behind the first');
      const serverSide = held[0]!.req.socket;
      client.destroy();
      await once(serverSide, 'close');
      await within(drain.idle(), 5000, 'idle() after the pipelining client left');
      assert.equal(drain.active, 0, 'nothing stays counted');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('an upload with Expect: 100-continue is in flight for the drain, and is told Connection: close while draining', async () => {
    let waiting: { req: IncomingMessage; res: ServerResponse } | undefined;
    let reached: () => void = () => {};
    const upload = new Promise<void>((r) => {
      reached = r;
    });
    const server = createServer((_req, res) => res.end());
    server.on('checkContinue', (req, res) => {
      waiting = { req, res };
      reached();
    });
    const drain = new RequestDrain(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      const rq = request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        headers: { expect: '100-continue', 'content-length': '3' },
      });
      rq.on('continue', () => rq.end('abc'));
      const answered = once(rq, 'response') as Promise<[IncomingMessage]>;
      rq.flushHeaders();
      await upload;
      assert.equal(drain.active, 1, 'the upload is in flight');
      const idle = drain.idle();
      const { req, res } = waiting!;
      res.writeContinue();
      req.resume();
      await once(req, 'end');
      res.end('done');
      const [response] = await answered;
      response.resume();
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers.connection, 'close', 'draining: the client is told to go elsewhere');
      await within(idle, 5000, 'idle() after the upload was answered');
      assert.equal(drain.active, 0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
