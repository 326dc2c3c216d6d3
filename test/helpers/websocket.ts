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
