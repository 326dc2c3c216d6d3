import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayMetrics } from '../metrics.js';
import type { Logger } from '../util/log.js';
import { writeRequestLine } from '../util/requestLogLine.js';
import type { Tracing } from '../util/tracing.js';
import { requestIdOf } from './requestFacts.js';
import { sendJson } from './respond.js';

/** The path of a request target, without its query (which may carry codes and states). */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Per-request log fields, filled in by whoever answers. */
export interface RequestLog {
  user?: string;
  decision?: string;
}

export interface RequestLogDeps {
  logger: Logger;
  metrics: GatewayMetrics;
  /** The request's server span (`gatehouse.request`) when tracing is on. */
  tracing?: Tracing;
}

/** One request's id and log fields; the log line is written when the response finishes. */
export interface LoggedRequest {
  requestId: string;
  log: RequestLog;
  /** A handler that threw: logged, answered 500 while nothing was sent yet, else the connection is cut. */
  failed(err: unknown): void;
}

/**
 * Starts the one log line and metrics count every request gets (`decision` labels both), written
 * when the response finishes whoever wrote it: Gatehouse, the upstream, or the application behind
 * the middleware or Fastify.
 */
export function logRequest(deps: RequestLogDeps, req: IncomingMessage, res: ServerResponse): LoggedRequest {
  const { logger, metrics } = deps;
  const started = performance.now();
  const requestId = requestIdOf(req);
  const log: RequestLog = {};
  res.on('finish', () => {
    metrics.countRequest(log.decision ?? 'unknown');
    writeRequestLine(logger, {
      reqId: requestId,
      method: req.method,
      path: pathOf(req.url ?? '/'),
      status: res.statusCode,
      user: log.user,
      decision: log.decision,
      ms: Math.round((performance.now() - started) * 100) / 100,
    });
  });
  return {
    requestId,
    log,
    failed(err) {
      logger.error({ reqId: requestId, err: String(err) }, 'request handler failed');
      if (!res.headersSent)
        sendJson(res, 500, { error: 'internal', reason: 'internal error', requestId }, requestId);
      else res.destroy();
    },
  };
}

/**
 * Runs `handle` with a request id, one log line and a metrics count per request, and a 500 (never
 * a crash) when it throws.
 */
export function runLogged(
  deps: RequestLogDeps,
  req: IncomingMessage,
  res: ServerResponse,
  handle: (requestId: string, log: RequestLog) => Promise<void>,
): void {
  const r = logRequest(deps, req, res);
  const run = () => handle(r.requestId, r.log);
  (deps.tracing?.enabled
    ? deps.tracing.request(req, res, () => ({ 'gatehouse.decision': r.log.decision }), run)
    : run()
  ).catch(r.failed);
}
