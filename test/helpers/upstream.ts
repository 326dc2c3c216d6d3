import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An upstream that echoes what reached it: method, url, headers, body size and the body's sha256. */
export interface EchoUpstream {
  url: string;
  server: Server;
  hits: number;
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits++;
    let bytes = 0;
    const sha = createHash('sha256');
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      sha.update(c);
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          headers: req.headers,
          bodyBytes: bytes,
          bodySha256: sha.digest('hex'),
        }),
      );
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    server,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
