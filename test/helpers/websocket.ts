import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/** A WebSocket upstream (the `ws` library) that echoes messages and remembers the upgrade headers. */
export async function startWsUpstream() {
  const server = createServer((_req, res) => res.end('http'));
  const wss = new WebSocketServer({ server });
  const seen: IncomingHttpHeaders[] = [];
  wss.on('connection', (sock, req) => {
    seen.push(req.headers);
    sock.on('message', (m) => sock.send(`echo:${m.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Opens a socket; resolves with it once open, or with the HTTP status of a refused upgrade. */
export async function connect(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws?: WebSocket; status?: number; body?: string }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

/** Resolves when the far end has closed `ws`; fails with `what` after 5 s rather than hanging. */
export async function closedBy(ws: WebSocket, what: string): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  try {
    await once(ws, 'close', { signal: AbortSignal.timeout(5000) });
  } catch {
    assert.fail(`${what}: the socket is still open after 5 s`);
  }
}

/**
 * An upstream that accepts any HTTP/1.1 upgrade, the way an h2c-capable server does: it answers
 * 101 (with `Upgrade: <answer>`, default the protocol asked for) and then echoes every raw byte
 * it receives. It remembers the upgrade requests, the bytes tunnelled to it, and plain requests.
 */
export async function startUpgradeAnyUpstream(answer?: string) {
  const upgrades: IncomingHttpHeaders[] = [];
  const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const tunnelled: Buffer[] = [];
  const open = new Set<import('node:stream').Duplex>();
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    upgrades.push(req.headers);
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${answer ?? req.headers.upgrade}\r\n\r\n`,
    );
    if (head.length) tunnelled.push(head);
    socket.on('data', (c: Buffer) => {
      tunnelled.push(c);
      socket.write(c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upgrades,
    requests,
    tunnelled,
    close: () =>
      new Promise<void>((r) => {
        for (const sock of open) sock.destroy();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
