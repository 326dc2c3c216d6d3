import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { Decision } from '../engine/decision.js';
import type { Engine } from '../engine/engine.js';
import { isNavigation, type RequestFacts } from '../engine/facts.js';
import { LOGOUT_PATH, SIGNED_OUT_PATH } from '../engine/logout.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Logger } from '../util/log.js';
import { AUTH_REQUEST_PATH, FORWARD_AUTH_PATH, handleForwardAuth } from './forwardAuth.js';
import type { OpenSockets } from './openSockets.js';
import type { UpstreamProxy } from './proxy.js';
import { factsFromNode, requestIdOf } from './requestFacts.js';
import { type Audience, RAW_SECURITY_HEADERS, respond, sendJson } from './respond.js';
import {
  capConnections,
  cutStalledWriters,
  type ServerLimits,
  serverOptions,
  throttled,
} from './serverLimits.js';
import { answerAndClose } from './socketAnswer.js';

/** What every front door built on the engine needs (reverse proxy, middleware). */
export interface FrontDoorDeps {
  engine: Engine;
  logger: Logger;
  metrics: GatewayMetrics;
  publicUrl: string;
}

export interface ServerDeps extends FrontDoorDeps {
  proxy: UpstreamProxy | undefined;
  /** Keeps proxied WebSockets bound to their session (closed when it ends). */
  openSockets?: OpenSockets;
  /** Readiness: provider discovered and store healthy. */
  readiness: () => { ok: boolean; reasons: string[] };
  /** Timeouts and the connection cap (`server.*`). */
  limits: ServerLimits;
}

/** Per-request log fields, filled in by whoever answers. */
export interface RequestLog {
  user?: string;
  decision?: string;
}

/**
 * Responses whose client sent `Expect: 100-continue` and is still waiting for the `100`
 * (the gateway's `checkContinue`): they carry `Connection: close` until `continueBody` is called,
 * so a refused request's unread body is never parsed as the next request.
 */
const awaitingContinue = new WeakSet<ServerResponse>();

function awaitContinue(res: ServerResponse): void {
  awaitingContinue.add(res);
  res.setHeader('connection', 'close');
}

/**
 * Lets the client send its body: `100 Continue` when it is waiting for one (once, and only on the
 * gateway's own server; in the middleware Node has already answered it), nothing otherwise.
 */
export function continueBody(res: ServerResponse): void {
  if (!awaitingContinue.delete(res) || res.headersSent) return;
  res.removeHeader('connection');
  res.writeContinue();
}

/**
 * Reads a small form body; undefined when it exceeds `limit` bytes. Beyond the limit nothing is
 * kept, but the rest is still read (and discarded) to its end before the caller answers 413 with
 * `Connection: close`: Node destroys the socket as soon as that answer is written, and a client
 * still sending its body would then get a reset, often before it has read the answer. Past
 * `limit × DISCARD_FACTOR` bytes (1 MiB for back-channel logout) the answer goes out at once:
 * such a client gets what it asked for.
 */
const DISCARD_FACTOR = 16;

function readSmallBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit * DISCARD_FACTOR) resolve(undefined);
      else if (size > limit) chunks.length = 0;
      else chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Serves the /oauth2/* routes shared by every front door (login, callback, logout, userinfo,
 * back-channel logout, and the forward-auth endpoints). `/oauth2/` is Gatehouse's namespace: any
 * other path under it is answered 404 here and never reaches the application (metrics included:
 * they have a listener of their own, `metrics.listen`). Resolves false only for paths outside it.
 */
export function createOAuth2Routes(
  deps: FrontDoorDeps,
): (req: IncomingMessage, res: ServerResponse, f: RequestFacts, log: RequestLog) => Promise<boolean> {
  const secure = deps.publicUrl.startsWith('https:');
  const { engine } = deps;
  return async (req, res, f, log) => {
    const requestId = f.requestId;
    const audience: Audience = isNavigation(f) ? 'page' : 'json';
    const answer = (d: Exclude<Decision, { type: 'allow' }>) => {
      log.decision = d.type === 'error' ? d.code : d.type;
      respond(res, d, audience, requestId);
      return true;
    };
    const url = new URL(f.url, deps.publicUrl);
    switch (f.path) {
      case '/oauth2/start':
        return answer(
          await engine.start(f, url.searchParams.get('rd'), url.searchParams.get('retry') === '1'),
        );
      case '/oauth2/callback':
        return answer(await engine.callback(f, url));
      case LOGOUT_PATH:
        return answer(await engine.logout(f));
      case SIGNED_OUT_PATH:
        return answer({
          type: 'page',
          status: 200,
          title: 'You are signed out',
          message: 'Your session has ended.',
          link: { href: '/oauth2/start?rd=%2F&retry=1', text: 'Sign in again' },
          setCookies: [],
        });
      case '/oauth2/userinfo': {
        const d = await engine.userinfo(f);
        log.decision = d.type === 'error' ? d.code : 'userinfo';
        respond(res, d, 'json', requestId);
        return true;
      }
      case '/oauth2/backchannel-logout': {
        if (req.method !== 'POST') {
          res.setHeader('allow', 'POST');
          sendJson(res, 405, { error: 'invalid_request', error_description: 'use POST' }, requestId);
          return true;
        }
        continueBody(res);
        const body = await readSmallBody(req, 64 * 1024);
        if (body === undefined) {
          log.decision = 'body_too_large';
          // The connection ends with the answer: past 1 MiB the rest of the body was not read.
          res.setHeader('connection', 'close');
          sendJson(
            res,
            413,
            { error: 'invalid_request', error_description: 'body larger than 64 KiB' },
            requestId,
          );
          return true;
        }
        log.decision = 'backchannel_logout';
        respond(res, await engine.backchannelLogout(f, new URLSearchParams(body)), 'json', requestId);
        return true;
      }
      // Forward-auth front door (nginx auth_request; Traefik forwardAuth, Caddy forward_auth): the
      // request being authorized is the one the proxy describes in X-Forwarded-*; see forwardAuth.ts.
      case AUTH_REQUEST_PATH:
      case FORWARD_AUTH_PATH: {
        const style = f.path === AUTH_REQUEST_PATH ? 'auth-request' : 'forward-auth';
        await handleForwardAuth(
          { engine, secure, target: engine.ctx.cfg.proxy },
          style,
          req,
          res,
          requestId,
          log,
        );
        return true;
      }
    }
    if (!f.path.startsWith('/oauth2/')) return false;
    answer(
      audience === 'page'
        ? {
            type: 'page',
            status: 404,
            title: 'Not found',
            message: 'There is no such page.',
            setCookies: [],
          }
        : {
            type: 'json',
            status: 404,
            body: { error: 'not_found', reason: 'no such Gatehouse endpoint', requestId },
            setCookies: [],
          },
    );
    log.decision = 'not_found';
    return true;
  };
}

/**
 * Runs `handle` with a request id, one log line and a metrics count per request, and a 500 (never
 * a crash) when it throws.
 */
export function runLogged(
  deps: Pick<FrontDoorDeps, 'logger' | 'metrics'>,
  req: IncomingMessage,
  res: ServerResponse,
  handle: (requestId: string, log: RequestLog) => Promise<void>,
): void {
  const { logger, metrics } = deps;
  const started = performance.now();
  const requestId = requestIdOf(req);
  const log: RequestLog = {};
  res.on('finish', () => {
    metrics.requests.inc({ decision: log.decision ?? 'unknown' });
    logger.info(
      {
        reqId: requestId,
        method: req.method,
        path: (req.url ?? '/').split('?')[0],
        status: res.statusCode,
        user: log.user,
        decision: log.decision,
        ms: Math.round((performance.now() - started) * 100) / 100,
      },
      'request',
    );
  });
  handle(requestId, log).catch((err) => {
    logger.error({ reqId: requestId, err: String(err) }, 'request handler failed');
    if (!res.headersSent)
      sendJson(res, 500, { error: 'internal', reason: 'internal error', requestId }, requestId);
    else res.destroy();
  });
}

/**
 * The reverse-proxy front door: /oauth2/* routes, health endpoints, and for everything else
 * `engine.check` followed by the upstream proxy. It only translates decisions into responses.
 */
export function createGatewayServer(deps: ServerDeps): Server {
  const secure = deps.publicUrl.startsWith('https:');
  const { engine } = deps;
  const oauth2 = createOAuth2Routes(deps);

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string, log: RequestLog) {
    const built = factsFromNode(req, secure, requestId, req.url, engine.ctx.cfg.proxy);
    const f = built.facts;
    const audience: Audience = isNavigation(f) ? 'page' : 'json';
    // A target the gateway and the app could read differently is refused before any routing.
    if (!built.ok) {
      log.decision = built.refusal.code;
      return respond(res, built.refusal, audience, requestId);
    }
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
    if (d.type !== 'allow') {
      log.decision = d.type === 'error' ? d.code : d.type;
      return respond(res, d, audience, requestId);
    }
    log.decision = 'allow';
    if (d.identity) log.user = d.identity.user;
    if (!deps.proxy) {
      return sendJson(
        res,
        404,
        { error: 'not_found', reason: 'no upstream is configured', requestId },
        requestId,
      );
    }
    // Allowed: only now may a client waiting on `Expect: 100-continue` send its body.
    continueBody(res);
    const forwarded = await deps.proxy.forward(req, res, {
      url: f.url,
      identityHeaders: d.upstreamHeaders,
      requestId,
      secure,
      setCookies: d.setCookies,
    });
    if (!forwarded.ok) {
      deps.logger.warn({ reqId: requestId, cause: forwarded.cause }, 'upstream request failed');
      log.decision = 'upstream_unavailable';
      respond(
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
      );
    }
  }

  /**
   * WebSocket upgrades: authenticated and authorized by the same `engine.check` at the upgrade
   * (never redirected: a socket cannot follow a login page), then spliced to the upstream and
   * kept bound to its session by `openSockets` (closed when the session ends or loses access).
   */
  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const built = factsFromNode(req, secure, requestId, req.url, engine.ctx.cfg.proxy);
    const f = { ...built.facts, secFetchMode: 'websocket', accept: undefined };
    // Only a WebSocket handshake is tunnelled: any other protocol (h2c above all) would turn the
    // spliced socket into a channel whose every later request reaches the upstream unchecked.
    const refusedUpgrade = websocketHandshakeProblem(req);
    const d: Decision = refusedUpgrade
      ? { type: 'error', status: 400, code: 'unsupported_upgrade', reason: refusedUpgrade, setCookies: [] }
      : built.ok
        ? await engine.check(f)
        : built.refusal;
    let status = 101;
    let decision = 'allow';
    if (d.type !== 'allow') {
      status = d.type === 'error' ? d.status : 401;
      decision = d.type === 'error' ? d.code : d.type;
      const reason = d.type === 'error' ? d.reason : 'Authentication required.';
      rawAnswer(socket, status, { error: decision, reason, requestId }, requestId);
    } else if (
      deps.proxy &&
      (await deps.proxy.upgrade(req, socket, head, {
        url: f.url,
        identityHeaders: d.upstreamHeaders,
        requestId,
        secure,
      }))
    ) {
      deps.openSockets?.add(socket, f, d.sessionKey);
    } else {
      status = 502;
      decision = 'upstream_unavailable';
      rawAnswer(
        socket,
        502,
        { error: decision, reason: 'The application behind the gateway is not reachable.', requestId },
        requestId,
      );
    }
    deps.metrics.requests.inc({ decision });
    deps.logger.info(
      {
        reqId: requestId,
        method: req.method,
        path: f.path,
        status,
        user: d.type === 'allow' ? d.identity?.user : undefined,
        decision,
        upgrade: String(req.headers.upgrade ?? ''),
        ms: Math.round((performance.now() - started) * 100) / 100,
      },
      'request',
    );
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

/**
 * Why an upgrade request is not a WebSocket handshake we tunnel (undefined when it is): `GET`,
 * `Upgrade: websocket` as its single token (any case), `Sec-WebSocket-Key` and
 * `Sec-WebSocket-Version` present (RFC 6455 §4.1). Everything else — `h2c` with its
 * `HTTP2-Settings`, a list of protocols, TLS upgrades — is refused with 400.
 */
export function websocketHandshakeProblem(req: IncomingMessage): string | undefined {
  const upgrade = String(req.headers.upgrade ?? '').trim();
  if (upgrade.toLowerCase() !== 'websocket')
    return 'Only WebSocket upgrades are supported (Upgrade: websocket).';
  if (req.method !== 'GET') return 'A WebSocket handshake uses GET.';
  if (!req.headers['sec-websocket-key'] || !req.headers['sec-websocket-version'])
    return 'A WebSocket handshake needs Sec-WebSocket-Key and Sec-WebSocket-Version.';
  return undefined;
}

/** An HTTP answer written straight to a socket that asked for an upgrade, then closed. */
function rawAnswer(socket: Duplex, status: number, body: unknown, requestId: string): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  answerAndClose(
    socket,
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\ncache-control: no-store\r\nx-request-id: ${requestId}\r\n${RAW_SECURITY_HEADERS}connection: close\r\n\r\n${text}`,
  );
}
