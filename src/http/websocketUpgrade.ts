import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Decision } from '../engine/decision.js';
import type { Engine } from '../engine/engine.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Logger } from '../util/log.js';
import { decisionLabel } from './answer.js';
import type { OpenSockets } from './openSockets.js';
import { factsFromNode, requestIdOf } from './requestFacts.js';
import { RAW_SECURITY_HEADERS } from './respond.js';
import { answerAndClose } from './socketAnswer.js';
import { type Upstreams, upstreamUrl } from './upstreams.js';

export interface UpgradeDeps {
  engine: Engine;
  logger: Logger;
  metrics: GatewayMetrics;
  upstreams: Upstreams;
  openSockets?: OpenSockets | undefined;
  /** Cookie `Secure`/name choice, from publicUrl. */
  secure: boolean;
}

/**
 * WebSocket upgrades: authenticated and authorized by the same `engine.check` at the upgrade
 * (never redirected: a socket cannot follow a login page), then spliced to the upstream and
 * kept bound to its session by `openSockets` (closed when the session ends or loses access).
 */
export function createUpgradeHandler(
  deps: UpgradeDeps,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void> {
  const { engine, secure } = deps;
  return async (req, socket, head) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const built = factsFromNode(req, secure, requestId, req.url, engine.ctx.cfg.proxy);
    const f = { ...built.facts, secFetchMode: 'websocket', accept: undefined };
    // Only a WebSocket handshake is tunnelled: any other protocol (h2c above all) would turn the
    // spliced socket into a channel whose every later request reaches the upstream unchecked.
    const refusedUpgrade = websocketHandshakeProblem(req);
    let d: Decision = refusedUpgrade
      ? { type: 'error', status: 400, code: 'unsupported_upgrade', reason: refusedUpgrade, setCookies: [] }
      : built.ok
        ? await engine.check(f)
        : built.refusal;
    if (d.type === 'allow' && !d.route.websocket) {
      d = {
        type: 'error',
        status: 403,
        code: 'unsupported_upgrade',
        reason: `WebSockets are not enabled on this application (route ${d.route.id}).`,
        setCookies: [],
      };
    }
    const proxy = d.type === 'allow' ? deps.upstreams.for(d.route) : undefined;
    let status = 101;
    let decision = 'allow';
    if (d.type !== 'allow') {
      status = d.type === 'error' ? d.status : 401;
      decision = decisionLabel(d);
      const reason = d.type === 'error' ? d.reason : 'Authentication required.';
      rawAnswer(socket, status, { error: decision, reason, requestId }, requestId);
    } else if (
      d.type === 'allow' &&
      proxy &&
      (await proxy.upgrade(req, socket, head, {
        url: upstreamUrl(d.route, f.url),
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
    deps.metrics.countRequest(decision);
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
  };
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
