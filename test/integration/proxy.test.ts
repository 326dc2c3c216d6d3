import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { ClientAddressResolver } from '../../src/http/clientAddress.js';
import { UpstreamProxy } from '../../src/http/proxy.js';
import type { Tracing } from '../../src/util/tracing.js';
import { TestBrowser } from '../helpers/browser.js';
import { openRaw, type RawConnection } from '../helpers/rawHttp.js';
import { login, type Stack, startStack } from '../helpers/stack.js';

/** Listens on a free loopback port. */
async function listening(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** An UpstreamProxy on a local upstream server that listens already (no trusted proxies). */
function proxyTo(upstream: Server, tracing?: Tracing): UpstreamProxy {
  return new UpstreamProxy({
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    cookieNames: ['gatehouse'],
    clientAddress: new ClientAddressResolver([]),
    ...(tracing ? { tracing } : {}),
  });
}

/**
 * A front door forwarding every request to `upstream` by its own path, and a raw TCP client on it
 * (for pipelining): what the client-that-leaves tests share.
 */
async function pipeliningClientOf(upstream: Server) {
  const { connect } = await import('node:net');
  const proxy = proxyTo(upstream);
  const { createServer } = await import('node:http');
  const front = createServer((req, res) => {
    void proxy.forward(req, res, { url: req.url!, identityHeaders: {}, requestId: 'r', secure: false });
  });
  const client = connect(await listening(front), '127.0.0.1');
  client.on('error', () => {});
  return { proxy, front, client };
}

describe('reverse proxy', () => {
  let s: Stack;
  let b: TestBrowser;
  before(async () => {
    s = await startStack();
    b = new TestBrowser();
    await login(s, b);
  });
  after(() => s.close());

  function cookieHeader(): string {
    return `gatehouse=${b.cookie(s.url, 'gatehouse')}; theme=dark`;
  }

  it('drops hop-by-hop headers, keeps the app cookies, sets X-Forwarded-*', async () => {
    // node:http, because undici rewrites the Connection header we want to send
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${s.url}/h`, {
        headers: {
          cookie: cookieHeader(),
          connection: 'keep-alive, x-private',
          'x-private': 'do-not-forward',
          'x-forwarded-for': '203.0.113.9',
          'x-request-id': 'trace-123',
        },
        agent: false,
      });
      req.on('response', (res) => {
        let b = '';
        res.on('data', (c) => {
          b += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end();
    });
    const echo = JSON.parse(body) as { headers: Record<string, string> };
    assert.equal(status, 200);
    assert.equal(echo.headers['x-private'], undefined);
    assert.equal(echo.headers.cookie, 'theme=dark');
    // The peer (127.0.0.1) is not a trusted proxy: the client's own X-Forwarded-For proves nothing.
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(echo.headers['x-real-ip'], '127.0.0.1');
    assert.equal(echo.headers['x-forwarded-host'], new URL(s.url).host);
    assert.equal(echo.headers['x-request-id'], 'trace-123');
  });

  it('streams a 256 MiB upload without buffering it', async () => {
    const chunk = Buffer.alloc(1 << 20, 7);
    let sent = 0;
    const total = 256;
    const body = new Readable({
      read() {
        if (sent++ < total) this.push(chunk);
        else this.push(null);
      },
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const res = await request(`${s.url}/upload`, {
      method: 'PUT',
      headers: { cookie: cookieHeader(), 'content-type': 'application/octet-stream' },
      body,
    });
    clearInterval(sampler);
    const echo = (await res.body.json()) as { bodyBytes: number };
    assert.equal(res.statusCode, 200);
    assert.equal(echo.bodyBytes, total * (1 << 20));
    assert.ok(peak - before < 128 * 1024 * 1024, `RSS grew by ${Math.round((peak - before) / 1048576)} MiB`);
  });

  it('a 5 MB curl upload (Expect: 100-continue) reaches the upstream byte-identical', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-upload-'));
    try {
      const data = randomBytes(5 * 1024 * 1024);
      const file = join(dir, 'upload.bin');
      writeFileSync(file, data);
      const sha = createHash('sha256').update(data).digest('hex');
      // curl adds `Expect: 100-continue` by itself above 1 MiB; -T (PUT) and --data-binary (POST).
      for (const how of [
        ['-T', file],
        ['--data-binary', `@${file}`, '-H', 'content-type: application/octet-stream'],
      ]) {
        const { stdout } = await promisify(execFile)(
          'curl',
          [
            '-sS',
            '-v',
            '-o',
            '-',
            '-w',
            '\n%{http_code}',
            '-H',
            `cookie: ${cookieHeader()}`,
            ...how,
            `${s.url}/upload`,
          ],
          { maxBuffer: 1 << 20 },
        ).catch((err: { stderr?: string }) => assert.fail(`curl failed: ${err.stderr}`));
        const at = stdout.lastIndexOf('\n');
        assert.equal(stdout.slice(at + 1), '200', `${how[0]}: ${stdout.slice(0, 300)}`);
        const echo = JSON.parse(stdout.slice(0, at)) as {
          bodyBytes: number;
          bodySha256: string;
          headers: Record<string, string>;
        };
        assert.equal(echo.bodyBytes, data.length, how[0]);
        assert.equal(echo.bodySha256, sha, how[0]);
        assert.equal(echo.headers.expect, undefined, 'the 100-continue was answered by the gateway');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Sends only the head of a request that waits for `100 Continue` before its body. */
  async function expectContinue(
    path: string,
    length: number,
    headers: Record<string, string>,
  ): Promise<RawConnection> {
    const c = await openRaw(s.url);
    const lines = [
      `POST ${path} HTTP/1.1`,
      `Host: ${new URL(s.url).host}`,
      `Content-Length: ${length}`,
      'Expect: 100-continue',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    c.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return c;
  }

  it('Expect: 100-continue: a refused request gets its final answer, never a 100, and the connection closes', async () => {
    const before = s.upstream.hits;
    for (const [kind, headers, status] of [
      ['api', { Accept: 'application/json', 'Content-Type': 'application/octet-stream' }, 401],
      // a POST is never sent to the login page (its body would be lost): 401 here too
      ['form post', { Accept: 'text/html', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' }, 401],
      ['bad cookie', { Accept: 'application/json', Cookie: 'gatehouse=forged' }, 401],
    ] as const) {
      const c = await expectContinue('/upload', 5 * 1024 * 1024, headers);
      await c.until(/\r\n\r\n/, `${kind}: the final answer`);
      // the body was never sent: the server closes without waiting for it
      await c.closed;
      const text = c.received();
      assert.doesNotMatch(text, /HTTP\/1\.1 100/, `${kind}: got a 100 Continue before the decision`);
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `), `${kind}: ${text.slice(0, 200)}`);
      assert.match(text, /\r\nconnection: close\r\n/i, kind);
    }
    assert.equal(s.upstream.hits, before, 'a refused request reached the upstream');
  });

  it('Expect: 100-continue: an allowed request gets 100, then its body reaches the upstream byte-identical', async () => {
    const data = randomBytes(300 * 1024);
    const c = await expectContinue('/upload', data.length, {
      Cookie: cookieHeader(),
      Accept: 'application/json',
      'Content-Type': 'application/octet-stream',
      Connection: 'close',
    });
    await c.until(/\r\n\r\n/, 'the 100 Continue');
    assert.equal(c.received(), 'HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write(data);
    await c.closed;
    const final = c.received().slice('HTTP/1.1 100 Continue\r\n\r\n'.length);
    assert.match(final, /^HTTP\/1\.1 200 /, final.slice(0, 300));
    const echo = JSON.parse(final.slice(final.indexOf('\r\n\r\n') + 4)) as {
      bodyBytes: number;
      bodySha256: string;
      headers: Record<string, string>;
    };
    assert.equal(echo.bodyBytes, data.length);
    assert.equal(echo.bodySha256, createHash('sha256').update(data).digest('hex'));
    assert.equal(echo.headers.expect, undefined);
  });

  it('Expect: 100-continue on /oauth2/* POSTs: back-channel logout reads its body after a 100; logout answers at once', async () => {
    const body = 'logout_token=not-a-jwt';
    const c = await expectContinue('/oauth2/backchannel-logout', body.length, {
      'Content-Type': 'application/x-www-form-urlencoded',
      Connection: 'close',
    });
    await c.until(/\r\n\r\n/, 'the 100 Continue');
    assert.equal(c.received(), 'HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write(body);
    await c.closed;
    const final = c.received().slice('HTTP/1.1 100 Continue\r\n\r\n'.length);
    assert.match(final, /^HTTP\/1\.1 400 /, final.slice(0, 300));
    assert.match(final, /invalid_request/);

    // logout reads no body: its 303 comes without a 100, and the session ends
    const other = new TestBrowser();
    await login(s, other);
    const cookie = `gatehouse=${other.cookie(s.url, 'gatehouse')}`;
    const l = await expectContinue('/oauth2/logout', 9, {
      Cookie: cookie,
      Origin: new URL(s.url).origin,
      'Sec-Fetch-Site': 'same-origin',
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    await l.closed;
    assert.match(l.received(), /^HTTP\/1\.1 303 /, l.received().slice(0, 300));
    const after = await new TestBrowser().request(`${s.url}/x`, { kind: 'api', headers: { cookie } });
    assert.equal(after.status, 401);
  });

  it('answers 502 (page for navigations, JSON for API) when the upstream is down, and logs why', async () => {
    await s.upstream.close();
    const api = await b.request(`${s.url}/x`, { kind: 'api' });
    assert.equal(api.status, 502);
    assert.equal(api.json().error, 'upstream_unavailable');
    const requestId = String(api.headers['x-request-id']);
    const line = s.logs.find((l) => l.msg === 'upstream request failed' && l.reqId === requestId);
    assert.ok(line, 'the failed upstream request is logged');
    assert.equal(line.level, 40, 'at warn');
    assert.match(String(line.cause), /ECONNREFUSED/);
    assert.doesNotMatch(JSON.stringify(line), /gatehouse=|ey[\w-]{10,}\./, 'no cookie or token in the line');
    const page = await b.request(`${s.url}/x`);
    assert.equal(page.status, 502);
    assert.match(page.body, /not reachable/);
  });
});

describe('reverse proxy: an allow decision’s own cookies', () => {
  async function proxied(
    app: (res: import('node:http').ServerResponse) => void,
    setCookies: string[],
  ): Promise<{ status: number; setCookie: unknown; body: Promise<string> }> {
    const { createServer } = await import('node:http');
    const upstream = createServer((_req, res) => app(res));
    await listening(upstream);
    const proxy = proxyTo(upstream);
    const front = createServer((req, res) => {
      void proxy.forward(req, res, {
        url: '/',
        identityHeaders: {},
        requestId: 'r1',
        secure: false,
        setCookies,
      });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const r = await request(`http://127.0.0.1:${(front.address() as { port: number }).port}/`);
    const body = r.body.text().finally(async () => {
      front.close();
      upstream.close();
      await proxy.close();
    });
    return { status: r.statusCode, setCookie: r.headers['set-cookie'], body };
  }

  it('are appended to the application’s Set-Cookie, never replacing it (the doors used to disagree)', async () => {
    const r = await proxied(
      (res) => {
        res.setHeader('set-cookie', ['app=1; Path=/', 'theme=dark; Path=/']);
        res.end('ok');
      },
      ['gatehouse=renewed; Path=/; HttpOnly'],
    );
    assert.equal(await r.body, 'ok');
    assert.deepEqual(r.setCookie, [
      'app=1; Path=/',
      'theme=dark; Path=/',
      'gatehouse=renewed; Path=/; HttpOnly',
    ]);
  });

  it('are appended to a single application cookie too', async () => {
    const r = await proxied(
      (res) => {
        res.setHeader('set-cookie', 'app=1; Path=/');
        res.end('ok');
      },
      ['gatehouse=renewed; Path=/; HttpOnly'],
    );
    assert.equal(await r.body, 'ok');
    assert.deepEqual(r.setCookie, ['app=1; Path=/', 'gatehouse=renewed; Path=/; HttpOnly']);
  });
});

describe('reverse proxy: an upstream that breaks off its body', () => {
  it('cuts the client’s response (no 502 written after the head), and the gateway carries on', async () => {
    const { createServer } = await import('node:http');
    const upstream = createServer((_req, res) => {
      res.setHeader('content-length', 1000);
      res.write('partial');
      setImmediate(() => res.socket?.destroy());
    });
    await listening(upstream);
    const proxy = proxyTo(upstream);
    const results: unknown[] = [];
    const front = createServer((req, res) => {
      void proxy
        .forward(req, res, { url: '/', identityHeaders: {}, requestId: 'r1', secure: false })
        .then((f) => results.push(f));
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(front.address() as { port: number }).port}/`;
    try {
      const r = await request(url);
      assert.equal(r.statusCode, 200);
      await assert.rejects(r.body.text(), 'the client sees the body cut short');
      assert.deepEqual(results, [{ ok: true }], 'nothing is left to answer: no 502 after the head');
    } finally {
      front.close();
      upstream.close();
      await proxy.close();
    }
  });
});

describe('reverse proxy: the upstream’s response head and body', () => {
  /** A front door on `upstream` and a keep-alive client: several requests share one connection. */
  async function frontFor(upstream: Server) {
    const { createServer } = await import('node:http');
    const proxy = proxyTo(upstream);
    const front = createServer((req, res) => {
      void proxy.forward(req, res, { url: req.url!, identityHeaders: {}, requestId: 'r', secure: false });
    });
    const url = `http://127.0.0.1:${await listening(front)}`;
    const { Agent } = await import('undici');
    const agent = new Agent({ connections: 1 });
    return {
      get: (path: string, method = 'GET') => request(`${url}${path}`, { method, dispatcher: agent }),
      close: async () => {
        await agent.close();
        front.close();
        upstream.close();
        await proxy.close();
      },
    };
  }

  it('headers the upstream’s Connection names are its hop’s own: never passed to the client', async () => {
    const { createServer } = await import('node:net');
    // Raw bytes: node:http would rewrite the Connection header.
    const upstream = createServer((socket) => {
      socket.on('data', () =>
        socket.write(
          'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Upstream-Hop\r\nConnection: X-Second-Hop\r\n' +
            'X-Upstream-Hop: internal\r\nX-Second-Hop: internal\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok',
        ),
      );
    }) as unknown as Server;
    await listening(upstream);
    const f = await frontFor(upstream);
    try {
      const r = await f.get('/');
      assert.equal(r.statusCode, 200);
      assert.equal(await r.body.text(), 'ok');
      assert.equal(r.headers['x-upstream-hop'], undefined);
      assert.equal(r.headers['x-second-hop'], undefined);
      assert.equal(r.headers['x-kept'], 'yes');
    } finally {
      await f.close();
    }
  });

  it('a 304 or 204 with a Content-Length (of a body it never sends) is answered whole, without it, and the connection carries on', async () => {
    const { createServer } = await import('node:net');
    // Raw bytes: node:http drops Content-Length from a 304. RFC 9110 §8.6 allows it there.
    const upstream = createServer((socket) => {
      socket.on('data', (d) => {
        const status = d.toString('latin1').startsWith('GET /nc') ? '204 No Content' : '304 Not Modified';
        socket.write(`HTTP/1.1 ${status}\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\n`);
      });
    }) as unknown as Server;
    await listening(upstream);
    const f = await frontFor(upstream);
    try {
      for (const path of ['/nm', '/nc', '/nm']) {
        const r = await f.get(path);
        assert.equal(r.statusCode, path === '/nc' ? 204 : 304);
        assert.equal(r.headers.etag, '"v1"');
        assert.equal(r.headers['content-length'], undefined);
        assert.equal(await r.body.text(), '');
      }
    } finally {
      await f.close();
    }
  });

  it('a body of known length in several pieces arrives whole, HEAD gets none, and the connection carries on', async () => {
    const { createServer } = await import('node:http');
    const upstream = createServer((req, res) => {
      res.setHeader('content-length', 6);
      if (req.method === 'HEAD') return res.end();
      res.write('abc');
      setTimeout(() => res.end('def'), 20);
    });
    await listening(upstream);
    const f = await frontFor(upstream);
    try {
      for (const method of ['GET', 'HEAD', 'GET']) {
        const r = await f.get('/piece', method);
        assert.equal(r.statusCode, 200);
        assert.equal(r.headers['content-length'], '6');
        assert.equal(await r.body.text(), method === 'HEAD' ? '' : 'abcdef');
      }
    } finally {
      await f.close();
    }
  });
});

describe('reverse proxy: a client that goes away', () => {
  /** A front door on UpstreamProxy, and an upstream that reports when its request is given up. */
  async function rig(
    answer: (res: import('node:http').ServerResponse) => void,
    beforeForward: (res: import('node:http').ServerResponse) => Promise<void> = async () => {},
    tracing?: import('../../src/util/tracing.js').Tracing,
  ) {
    const { createServer } = await import('node:http');
    let reached!: () => void;
    const upstreamReached = new Promise<void>((r) => {
      reached = r;
    });
    let abandoned!: (finished: boolean) => void;
    const upstreamClosed = new Promise<boolean>((r) => {
      abandoned = r;
    });
    const upstream = createServer((_req, res) => {
      res.on('close', () => abandoned(res.writableFinished));
      reached();
      answer(res);
    });
    await listening(upstream);
    const proxy = proxyTo(upstream, tracing);
    const results: unknown[] = [];
    let forwardedOnce!: () => void;
    const forwarded = new Promise<void>((r) => {
      forwardedOnce = r;
    });
    const front = createServer((req, res) => {
      void beforeForward(res)
        .then(() =>
          proxy.forward(req, res, { url: '/', identityHeaders: {}, requestId: 'r1', secure: false }),
        )
        .then((f) => {
          results.push(f);
          forwardedOnce();
        });
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const port = (front.address() as { port: number }).port;
    return {
      port,
      upstreamReached,
      upstreamClosed,
      results,
      forwarded,
      /** A client sends a request and goes away once the upstream has it. */
      leaveOnceUpstreamReached: async () => {
        const client = httpRequest({ port, path: '/' });
        client.on('error', () => {});
        client.end();
        await upstreamReached;
        client.destroy();
      },
      close: async () => {
        front.close();
        upstream.close();
        await proxy.close();
      },
    };
  }

  it('while the upstream has not answered yet: the upstream request is given up at once, nothing is logged as a failure', async () => {
    // The upstream never answers: only the gateway giving the request up can close it.
    const r = await rig(() => {});
    try {
      await r.leaveOnceUpstreamReached();
      assert.equal(await r.upstreamClosed, false, 'the upstream request was abandoned, not answered');
      assert.deepEqual(
        r.results,
        [{ ok: true }],
        'a client that left is not an upstream failure (no 502, no warning)',
      );
    } finally {
      await r.close();
    }
  });

  it('mid-body: the upstream stops being read and its request is given up', async () => {
    // A body that never ends unless the request is given up.
    const r = await rig((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk');
    });
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const client = httpRequest({ port: r.port, path: '/' }, (res) => {
          res.once('data', (chunk: Buffer) => {
            resolve(chunk.toString());
            client.destroy();
          });
        });
        client.on('error', () => {});
        client.once('error', reject);
        client.end();
      });
      assert.equal(got, 'first chunk');
      assert.equal(await r.upstreamClosed, false, 'the upstream response was cut off, not finished');
      assert.deepEqual(r.results, [{ ok: true }]);
    } finally {
      await r.close();
    }
  });

  it('while the decision was still being made: no upstream request is left holding a pooled connection', async () => {
    // The client leaves during the (async) access check; the proxy is handed a response that is
    // already closed. The upstream sends a body that never ends: only giving the request up closes it.
    let gone!: () => void;
    const clientGone = new Promise<void>((r) => {
      gone = r;
    });
    let received!: () => void;
    const frontReached = new Promise<void>((r) => {
      received = r;
    });
    let upstreamAsked = false;
    const r = await rig(
      (res) => {
        upstreamAsked = true;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(1 << 20));
      },
      (res) => {
        res.once('close', gone);
        received();
        return clientGone;
      },
    );
    try {
      const client = httpRequest({ port: r.port, path: '/' });
      client.on('error', () => {});
      client.end();
      await frontReached;
      client.destroy();
      await clientGone;
      await r.forwarded;
      assert.deepEqual(r.results, [{ ok: true }], 'a client that left is not an upstream failure');
      if (upstreamAsked) {
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          r.upstreamClosed.then((finished) => (finished ? 'finished' : 'given up')),
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve('still held after 5 s'), 5000);
          }),
        ]);
        clearTimeout(timer);
        assert.equal(
          outcome,
          'given up',
          'the upstream request was given up, not left paused on a closed response',
        );
      }
    } finally {
      await r.close();
    }
  });

  it('while the upstream has not answered yet: the upstream span records no status the client never got', async () => {
    const { noTracing } = await import('../../src/util/tracing.js');
    const spans: Array<{ name: string; attrs: Record<string, unknown>; failed?: string }> = [];
    const tracing = {
      ...noTracing,
      enabled: true,
      span: <T>(name: string, _kind: string, attrs: object, fn: (s: never) => Promise<T>) => {
        const rec: (typeof spans)[number] = { name, attrs: { ...attrs } };
        spans.push(rec);
        return fn({
          setAttributes: (a: object) => Object.assign(rec.attrs, a),
          fail: (m: string) => {
            rec.failed = m;
          },
        } as never);
      },
    } as import('../../src/util/tracing.js').Tracing;
    const r = await rig(() => {}, undefined, tracing);
    try {
      await r.leaveOnceUpstreamReached();
      await r.forwarded;
      assert.equal(spans.length, 1);
      assert.equal(spans[0]!.attrs['http.response.status_code'], undefined, 'no 200 was ever sent');
      assert.ok(spans[0]!.failed, 'the upstream call is marked as given up');
    } finally {
      await r.close();
    }
  });

  it('with a pipelined request queued behind: the queued one’s upstream request is given up too', async () => {
    const { createServer } = await import('node:http');
    const closed = new Map<string, Promise<boolean>>();
    let bothReached!: () => void;
    const reached = new Promise<void>((r) => {
      bothReached = r;
    });
    // /1 never answers; /2 answers at once with a body that never ends, into a response that
    // is queued behind /1's (not attached to the connection yet).
    const upstream = createServer((req, res) => {
      closed.set(req.url!, new Promise((r) => res.on('close', () => r(res.writableFinished))));
      if (req.url === '/2') {
        res.writeHead(200);
        res.write(Buffer.alloc(1 << 20));
      }
      if (closed.size === 2) bothReached();
    });
    await listening(upstream);
    const { proxy, front, client } = await pipeliningClientOf(upstream);
    try {
      client.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
      await reached;
      client.destroy();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        closed.get('/2')!.then((finished) => (finished ? 'finished' : 'given up')),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('still held after 5 s'), 5000);
        }),
      ]);
      clearTimeout(timer);
      assert.equal(outcome, 'given up', 'the queued request’s upstream connection is not held for good');
      assert.equal(await closed.get('/1'), false);
    } finally {
      front.close();
      upstream.close();
      // Destroying the pool also ends a request left paused, so the test ends either way.
      await Promise.race([proxy.close(), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
  });

  it('many pipelined requests waiting on the upstream: no listener pile-up on the connection', async () => {
    const { createServer } = await import('node:http');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    let seen = 0;
    let allReached!: () => void;
    const reached = new Promise<void>((r) => {
      allReached = r;
    });
    const upstream = createServer(() => {
      if (++seen === 30) allReached();
    });
    await listening(upstream);
    const { proxy, front, client } = await pipeliningClientOf(upstream);
    try {
      client.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(30));
      await reached;
      // A warning is emitted on the next tick after the listener that crossed the limit.
      await new Promise((r) => setImmediate(r));
      client.destroy();
      assert.deepEqual(warnings, [], 'no MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      front.close();
      upstream.close();
      await proxy.close();
    }
  });
});
