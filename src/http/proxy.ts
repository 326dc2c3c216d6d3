import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { stripCookies } from '../engine/cookies.js';
import { describeCause } from '../util/errors.js';
import { noTracing, type Tracing } from '../util/tracing.js';
import { appendSetCookies } from './answer.js';
import type { ClientAddressResolver } from './clientAddress.js';
import { forwardingFacts, forwardingHeaders, ManagedHeaders } from './managedHeaders.js';

/** RFC 9110 §7.6.1 hop-by-hop headers: never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // RFC 9113 §3.2.1 (h2c): connection-specific; we never upgrade to HTTP/2 (see websocketHandshakeProblem).
  'http2-settings',
  // The gateway answers `100 Continue` itself, once the request is allowed (checkContinue in
  // server.ts); the upstream hop is ours, and undici refuses a request carrying `Expect`.
  'expect',
]);

export interface ProxyOptions {
  upstream: string;
  /** Our cookies, stripped from the upstream hop. */
  cookieNames: string[];
  /** Max pooled keep-alive connections to the upstream. */
  connections?: number;
  /** Header/body timeouts towards the upstream, ms. */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** `server.trustedProxies`: X-Forwarded-For and X-Real-IP are rebuilt from it. */
  clientAddress: ClientAddressResolver;
  /** Client headers never passed on (ours, in every spelling); default: underscore headers dropped, Authorization kept. */
  managedHeaders?: ManagedHeaders;
  /** `securityHeaders`: added to upstream responses that do not set them (lower-case names). */
  responseHeaders?: Record<string, string>;
  /** A client span per forwarded request and the W3C `traceparent` it sends (off: neither). */
  tracing?: Tracing;
}

/** Why the upstream could not be reached, for the log (never a header value, never a token). */
export type ForwardResult = { ok: true } | { ok: false; cause: string };

export interface ProxyRequestExtras {
  /** The normalised path + query the decision was made on; forwarded instead of the raw one. */
  url: string;
  identityHeaders: Record<string, string>;
  requestId: string;
  secure: boolean;
  /** The decision's own Set-Cookie values, sent along with the application's. */
  setCookies?: readonly string[];
}

/**
 * Streams requests to the upstream over a keep-alive pool (undici) and streams the response
 * back: bodies are never buffered, so a 1 GB upload costs a few socket buffers of memory.
 */
export class UpstreamProxy {
  private readonly dispatcher: Agent;
  private readonly origin: string;
  private readonly host: string;
  private readonly port: number;
  private readonly basePath: string;
  private readonly ownCookies: string[];
  private readonly clientAddress: ClientAddressResolver;
  private readonly managed: ManagedHeaders;
  private readonly responseHeaders: Array<[string, string]>;
  private readonly tracing: Tracing;

  constructor(opts: ProxyOptions) {
    const u = new URL(opts.upstream);
    this.origin = u.origin;
    this.host = u.hostname;
    this.port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
    this.basePath = u.pathname.replace(/\/$/, '');
    this.ownCookies = opts.cookieNames;
    this.clientAddress = opts.clientAddress;
    this.managed =
      opts.managedHeaders ?? new ManagedHeaders({ allowUnderscoreHeaders: false, setsAuthorization: false });
    this.responseHeaders = Object.entries(opts.responseHeaders ?? {});
    this.tracing = opts.tracing ?? noTracing;
    this.dispatcher = new Agent({
      connections: opts.connections ?? 256,
      headersTimeout: opts.headersTimeoutMs ?? 60_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 300_000,
      keepAliveTimeout: 30_000,
    });
  }

  /**
   * Request headers for the upstream: hop-by-hop headers and every header we manage (identity,
   * forwarding, `X-Auth-Request-*`, `X-Gatehouse-*`, in any spelling) removed; ours added.
   */
  private upstreamHeaders(
    req: IncomingMessage,
    extras: ProxyRequestExtras,
  ): Record<string, string | string[]> {
    const src: IncomingHttpHeaders = req.headers;
    const connectionListed = new Set(
      String(src.connection ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    );
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(src)) {
      if (value === undefined) continue;
      if (HOP_BY_HOP.has(name) || connectionListed.has(name) || this.managed.drops(name)) continue;
      if (name === 'cookie') {
        const kept = stripCookies(value as string, this.ownCookies);
        if (kept) out.cookie = kept;
        continue;
      }
      if (name === 'authorization' && 'authorization' in extras.identityHeaders) continue;
      out[name] = value;
    }
    forwardingHeaders(req, forwardingFacts(req, this.clientAddress), extras.secure, out);
    out['x-request-id'] = extras.requestId;
    for (const [k, v] of Object.entries(extras.identityHeaders)) out[k] = v;
    return out;
  }

  /** `ok: false` with the cause when the upstream could not be reached (the caller logs it, answers 502). */
  forward(req: IncomingMessage, res: ServerResponse, extras: ProxyRequestExtras): Promise<ForwardResult> {
    if (!this.tracing.enabled) return this.send(req, res, extras);
    // The span lasts until the upstream's response head (the body streams on after it).
    return this.tracing.span(
      'gatehouse.upstream',
      'client',
      { 'http.request.method': req.method, 'server.address': this.host, 'server.port': this.port },
      async (span) => {
        const result = await this.send(req, res, extras);
        if (result.ok) span.setAttributes({ 'http.response.status_code': res.statusCode });
        else span.fail(result.cause);
        return result;
      },
    );
  }

  private async send(
    req: IncomingMessage,
    res: ServerResponse,
    extras: ProxyRequestExtras,
  ): Promise<ForwardResult> {
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
    const hasBody =
      !(method === 'GET' || method === 'HEAD') ||
      req.headers['content-length'] !== undefined ||
      req.headers['transfer-encoding'] !== undefined;
    const headers = this.upstreamHeaders(req, extras);
    this.tracing.inject(headers);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await this.dispatcher.request({
        origin: this.origin,
        path: this.basePath + extras.url,
        method,
        headers,
        body: hasBody ? req : null,
      });
    } catch (err) {
      return { ok: false, cause: describeCause(err) };
    }
    res.statusCode = upstream.statusCode;
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      res.setHeader(name, value);
    }
    // securityHeaders: only where the application said nothing.
    for (const [name, value] of this.responseHeaders) if (!res.hasHeader(name)) res.setHeader(name, value);
    // An allow decision may carry cookies of ours: appended, never replacing the application's.
    appendSetCookies(res, extras.setCookies ?? []);
    const body = upstream.body;
    body.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) body.destroy();
    });
    // A client that stops reading is cut by cutStalledWriters (server.writeTimeoutSeconds).
    body.pipe(res);
    return { ok: true };
  }

  /**
   * WebSocket proxying (the only upgrade the server lets through): the upgrade request goes
   * upstream with the same header rules as any request; on a 101 that switches to `websocket`
   * the two sockets are spliced together. Returns false when the upstream refused, could not be
   * reached or switched to another protocol (the caller answers 502; nothing is spliced).
   */
  async upgrade(
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    extras: ProxyRequestExtras,
  ): Promise<boolean> {
    let up: Dispatcher.UpgradeData;
    try {
      up = await this.dispatcher.upgrade({
        origin: this.origin,
        path: this.basePath + extras.url,
        method: req.method ?? 'GET',
        headers: this.upstreamHeaders(req, extras),
        protocol: 'websocket',
      } as Dispatcher.UpgradeOptions);
    } catch {
      return false;
    }
    const switched = up.headers.upgrade;
    if (typeof switched !== 'string' || switched.trim().toLowerCase() !== 'websocket') {
      up.socket.destroy();
      return false;
    }
    if (client.destroyed) {
      up.socket.destroy();
      return true;
    }
    const lines = ['HTTP/1.1 101 Switching Protocols', 'connection: Upgrade', 'upgrade: websocket'];
    for (const [name, value] of Object.entries(up.headers)) {
      if (value === undefined || name === 'connection' || name === 'upgrade') continue;
      for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
    }
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) up.socket.write(head);
    const closeBoth = () => {
      client.destroy();
      up.socket.destroy();
    };
    up.socket.on('error', closeBoth).on('close', closeBoth);
    client.on('error', closeBoth).on('close', closeBoth);
    up.socket.pipe(client);
    client.pipe(up.socket);
    return true;
  }

  /** Waits for upstream requests in flight to finish, then closes the pool. */
  close(): Promise<void> {
    return this.dispatcher.close();
  }

  /** Aborts upstream requests in flight (shutdown past its deadline). */
  destroy(): Promise<void> {
    return this.dispatcher.destroy();
  }
}
