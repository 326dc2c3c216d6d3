import { createServer, type Server } from 'node:http';
import type { Logger } from '../util/log.js';
import { closeNow, listenOn } from './listen.js';

/**
 * What the listener serves: a gateway's own registry, or (the primary of `server.workers`) the
 * sum of every worker's, gathered over IPC (prom-client's AggregatorRegistry).
 */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** Paths the metrics listener answers; `/oauth2/metrics` keeps an existing scrape path working (only host:port change). */
const METRICS_PATHS = new Set(['/metrics', '/oauth2/metrics']);

/**
 * The metrics listener: a small server of its own on `metrics.listen` (oauth2-proxy's
 * `--metrics-address` convention), never the public port. It serves `GET /metrics` (and
 * `/oauth2/metrics`) from `registry` and nothing else. Who may scrape it is decided by where it
 * listens and by the network (a NetworkPolicy, a firewall), not by the client's address.
 */
export function createMetricsServer(registry: MetricsSource, logger: Logger): Server {
  return createServer(
    {
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 65_000,
      connectionsCheckingInterval: 2000,
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      res.setHeader('cache-control', 'no-store');
      if (!METRICS_PATHS.has(path)) {
        res.statusCode = 404;
        res.end('not found: metrics are at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.setHeader('allow', 'GET, HEAD');
        res.end();
        return;
      }
      registry.metrics().then(
        (text) => {
          res.setHeader('content-type', registry.contentType);
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          logger.error({ err: String(err) }, 'metrics collection failed');
          res.statusCode = 500;
          res.end();
        },
      );
    },
  );
}

/** A started metrics listener. */
export interface MetricsListener {
  /** The bound address, e.g. `http://0.0.0.0:9464`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the metrics listener on `address` (HOST:PORT); rejects when it cannot listen (EADDRINUSE...). */
export async function startMetricsListener(
  address: string,
  registry: MetricsSource,
  logger: Logger,
): Promise<MetricsListener> {
  const server = createMetricsServer(registry, logger);
  const url = await listenOn(server, address);
  logger.info({ url: `${url}/metrics` }, 'metrics listening');
  return { url, close: () => closeNow(server) };
}
