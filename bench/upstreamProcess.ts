/** A tiny upstream for benchmarks, in its own process: answers 200 with a small JSON body. */
import { createServer } from 'node:http';

const body = JSON.stringify({ ok: true, panel: 'cpu', values: [1, 2, 3, 4, 5, 6, 7, 8] });
const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stdout.write(`listening ${a.port}\n`);
});
