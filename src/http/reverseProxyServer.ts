import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Tracing } from '../util/tracing.js';
import { answer, audienceOf, logAllowed } from './answer.js';
import { awaitContinue, continueBody } from './expectContinue.js';
import { createOAuth2Routes, type FrontDoorDeps } from './oauth2Routes.js';
import type { OpenSockets } from './openSockets.js';
import { factsFromNode } from './requestFacts.js';
import { type RequestLog, runLogged } from './requestLog.js';
import { sendJson } from './respond.js';
import {
  capConnections,
  cutStalledWriters,
  type ServerLimits,
  serverOptions,
  throttled,
} from './serverLimits.js';
import type { Upstreams } from './upstreams.js';
import { upstreamUrl } from './upstreams.js';
import { createUpgradeHandler } from './websocketUpgrade.js';

export interface ServerDeps extends FrontDoorDeps {
  /** One pool per route with an upstream. */
  upstreams: Upstreams;
  /** Keeps proxied WebSockets bound to their session (closed when it ends). */
  openSockets?: OpenSockets;
  /** Readiness: provider discovered and store healthy. */
  readiness: () => { ok: boolean; reasons: string[] };
  /** Timeouts and the connection cap (`server.*`). */
  limits: ServerLimits;
  /** The request spans (requestLog.ts) when tracing is on. */
  tracing?: Tracing;
}

/**
 * The reverse-proxy front door: /oauth2/* routes, health endpoints, and for everything else
 * `engine.check` followed by the upstream proxy. It only translates decisions into responses.
 */
export function createGatewayServer(deps: ServerDeps): Server {
  const secure = deps.publicUrl.startsWith('https:');
  const { engine } = deps;
  const oauth2 = createOAuth2Routes(deps);
  const handleUpgrade = createUpgradeHandler({ ...deps, secure });

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string, log: RequestLog) {
    const built = factsFromNode(req, secure, requestId, req.url, engine.ctx.cfg.proxy);
    const f = built.facts;
    const audience = audienceOf(f);
    // A target the gateway and the app could read differently is refused before any routing.
    if (!built.ok) return answer(res, built.refusal, audience, requestId, log);
    if (f.path.startsWith('/oauth2/') && (await oauth2(req, res, f, log))) return;
    if (f.path === '/healthz') {
      log.decision = 'health';
      return sendJson(res, 200, { status: 'ok' }, requestId);
    }
    if (f.path === '/readyz') {
      const r = deps.readiness();
      log.decision = 'ready';
      return sendJson(
        res,
        r.ok ? 200 : 503,
        r.ok ? { status: 'ready' } : { status: 'not ready', reasons: r.reasons },
        requestId,
      );
    }
    const d = await engine.check(f);
    if (d.type !== 'allow') return answer(res, d, audience, requestId, log);
    logAllowed(log, d);
    const proxy = deps.upstreams.for(d.route);
    if (!proxy) {
      return sendJson(
        res,
        404,
        { error: 'not_found', reason: 'no upstream is configured', requestId },
        requestId,
      );
    }
    // Allowed: only now may a client waiting on `Expect: 100-continue` send its body.
    continueBody(res);
    const forwarded = await proxy.forward(req, res, {
      url: upstreamUrl(d.route, f.url),
      identityHeaders: d.upstreamHeaders,
      requestId,
      secure,
      setCookies: d.setCookies,
    });
    if (!forwarded.ok) {
      deps.logger.warn(
        { reqId: requestId, route: d.route.id, cause: forwarded.cause },
        'upstream request failed',
      );
      answer(
        res,
        {
          type: 'error',
          status: 502,
          code: 'upstream_unavailable',
          reason: 'The application behind the gateway is not reachable.',
          setCookies: [],
        },
        audience,
        requestId,
        log,
      );
    }
  }

  const server = createServer(serverOptions(deps.limits), (req, res) =>
    runLogged(deps, req, res, (requestId, log) => handle(req, res, requestId, log)),
  );
  // `Expect: 100-continue`: without this listener Node answers `100 Continue` before we have
  // looked at the request, and an unauthenticated client uploads its whole body before its 401.
  // The same handling runs; the 100 goes out only when the body is about to be read (continueBody).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitContinue(res);
    runLogged(deps, req, res, (requestId, log) => handle(req, res, requestId, log));
  });
  const logRefused = throttled(10_000, (refused) =>
    deps.logger.warn(
      { refused, maxConnections: deps.limits.maxConnections },
      'connections refused (503): server.maxConnections reached',
    ),
  );
  capConnections(server, deps.limits.maxConnections, () => {
    deps.metrics.connectionsRefused.inc();
    logRefused();
  });
  const logStalled = throttled(10_000, (cut) =>
    deps.logger.warn(
      { cut, writeTimeoutSeconds: deps.limits.writeTimeoutSeconds },
      'connections closed: the client stopped reading (server.writeTimeoutSeconds)',
    ),
  );
  cutStalledWriters(server, deps.limits.writeTimeoutSeconds * 1000, () => {
    deps.metrics.connectionsStalled.inc();
    logStalled();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    handleUpgrade(req, socket, head).catch((err) => {
      deps.logger.error({ err: String(err) }, 'upgrade handler failed');
      socket.destroy();
    });
  });
  return server;
}
