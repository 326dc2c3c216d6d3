// A TLS-terminating reverse proxy in front of a plain-http server (the dev IdP), as a load
// balancer with an internal CA's certificate would be: https://localhost:PORT → http://127.0.0.1:target.
import { request } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface TlsProxy {
  /** `https://localhost:PORT`, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

export async function startTlsProxy(target: string, tls: { key: string; cert: string }): Promise<TlsProxy> {
  const to = new URL(target);
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const up = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://localhost:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
