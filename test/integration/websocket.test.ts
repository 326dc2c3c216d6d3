import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { TestBrowser } from '../helpers/browser.js';
import { type Stack, startStack } from '../helpers/stack.js';

/** A WebSocket upstream (the `ws` library) that echoes messages and remembers the upgrade headers. */
async function startWsUpstream() {
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
async function connect(
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
