/** The floor: the smallest sensible Node reverse proxy on undici `Pool.request`, no auth, no logging. */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]!, { connections: 64, pipelining: 1 });
const server = createServer(async (req, res) => {
  try {
    const { connection: _c, 'keep-alive': _k, ...headers } = req.headers;
    const up = await pool.request({ path: req.url!, method: req.method as 'GET', headers });
    res.writeHead(up.statusCode, up.headers as Record<string, string>);
    for await (const chunk of up.body) res.write(chunk);
    res.end();
  } catch {
    res.statusCode = 502;
    res.end();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[3]), '127.0.0.1', () => process.stdout.write('listening\n'));
