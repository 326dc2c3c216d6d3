import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/load.js';
import { createGatehouseMiddleware, type GatehouseRequest } from '../../src/index.js';
import { createLogger } from '../../src/util/log.js';
import { type EmbeddedDoor, embeddedDoorSuite, FRAMED_PATH } from './embeddedSuite.js';

/** A plain node:http app behind the middleware: it echoes what reached it. */
export const middlewareDoor: EmbeddedDoor = {
  normalisedPath: 'rewritten',
  async start(config, port) {
    const mw = createGatehouseMiddleware(config, { env: {}, logger: createLogger('silent') });
    let calls = 0;
    const server = createServer((req, res) =>
      mw.handler(req, res, () => {
        calls++;
        if (req.url === FRAMED_PATH) {
          res.setHeader('x-frame-options', 'DENY');
          res.end('ok');
          return;
        }
        const r = req as GatehouseRequest;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            url: req.url,
            headers: req.headers,
            rawHeaders: req.rawHeaders,
            headersDistinct: req.headersDistinct,
            gatehouse: r.gatehouse ?? null,
          }),
        );
      }),
    );
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${port}`,
      calls: () => calls,
      ready: mw.ready,
      async close() {
        await new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
        await mw.close();
      },
    };
  },
};

embeddedDoorSuite('createGatehouseMiddleware (node:http)', middlewareDoor);

describe('createGatehouseMiddleware: configuration', () => {
  // Never contacted: the config is refused before anything starts.
  const url = 'http://127.0.0.1:1';
  const idp = { issuer: 'http://127.0.0.1:2' };

  it('a bad configuration throws ConfigError at once, naming the key', () => {
    assert.throws(
      () =>
        createGatehouseMiddleware(
          {
            publicUrl: url,
            provider: { issuer: idp.issuer, clientId: 'x', clientSecret: 'y' },
            session: { secret: 'too-short' },
          },
          { env: {} },
        ),
      (err: unknown) =>
        err instanceof ConfigError && /session\.secret: must be at least 32/.test(err.message),
    );
  });
});
