import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Dispatcher, Pool, util } from 'undici';
import { stripCookies } from '../engine/cookies.js';
import { describeCause } from '../util/errors.js';
import { noTracing, type Tracing } from '../util/tracing.js';
import type { ClientAddressResolver } from './clientAddress.js';
import { forwardingFacts, forwardingHeaders, ManagedHeaders } from './managedHeaders.js';
import { forgetClose, whenClosed } from './socketClose.js';

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

/**
 * The names a `Connection` header lists (hop-by-hop for this hop), added to `into`; undefined for
 * none. A response may carry several Connection lines: each adds its names.
 */
function listedInConnection(connection: string | undefined, into?: Set<string>): Set<string> | undefined {
  // The common values name no other header: nothing to allocate.
  if (connection === undefined) return into;
  const v = connection.toLowerCase();
  if (v === 'keep-alive' || v === 'close') return into;
  const names = into ?? new Set<string>();
  for (const s of v.split(',')) {
    const n = s.trim();
    if (n) names.add(n);
  }
  return names.size > 0 ? names : into;
}

/** Removes every `[name, value]` pair of the flat list whose name is in `names`. */
function dropNamed(head: string[], names: ReadonlySet<string>): void {
  let w = 0;
  for (let r = 0; r < head.length; r += 2) {
    if (names.has(head[r]!)) continue;
    head[w++] = head[r]!;
    head[w++] = head[r + 1]!;
  }
  head.length = w;
}

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
  private readonly dispatcher: Pool;
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
    // A Pool for the one origin (an Agent would look the origin up on every request).
    this.dispatcher = new Pool(this.origin, {
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
    const connectionListed = listedInConnection(src.connection);
    const out: Record<string, string | string[]> = {};
    for (const name in src) {
      const value = src[name];
      if (value === undefined) continue;
      if (HOP_BY_HOP.has(name) || connectionListed?.has(name) || this.managed.drops(name)) continue;
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
    const identity = extras.identityHeaders;
    for (const k in identity) out[k] = identity[k]!;
    return out;
  }

  /**
   * `ok: false` with the cause when the upstream could not be reached and nothing was sent (the
   * caller logs it, answers 502). Resolves once the response head is written; the body streams
   * on after it.
   */
  forward(req: IncomingMessage, res: ServerResponse, extras: ProxyRequestExtras): Promise<ForwardResult> {
    if (!this.tracing.enabled) return this.send(req, res, extras);
    // The span lasts until the upstream's response head (the body streams on after it).
    return this.tracing.span(
      'gatehouse.upstream',
      'client',
      { 'http.request.method': req.method, 'server.address': this.host, 'server.port': this.port },
      async (span) => {
        const result = await this.send(req, res, extras);
        if (!result.ok) span.fail(result.cause);
        // `ok` without a head sent: the client left first and the upstream call was given up
        // (`res.statusCode` is only Node's default 200 then, never an answer anyone got).
        else if (!res.headersSent) span.fail('the client closed the connection before the upstream answered');
        else span.setAttributes({ 'http.response.status_code': res.statusCode });
        return result;
      },
    );
  }

  private send(
    req: IncomingMessage,
    res: ServerResponse,
    extras: ProxyRequestExtras,
  ): Promise<ForwardResult> {
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
    const hasBody =
      !(method === 'GET' || method === 'HEAD') ||
      req.headers['content-length'] !== undefined ||
      req.headers['transfer-encoding'] !== undefined;
    // The client left while the request was being decided (its `close` has been and gone, so the
    // relay below would never hear of it): nothing to send it, and an upstream response written
    // into a closed response would pause on a `drain` that never comes, holding a pooled
    // connection (undici's body timeout does not run while paused) for good.
    // A response queued behind a pipelined one is not closed with its connection: ask that.
    if (res.destroyed || req.socket.destroyed) return Promise.resolve({ ok: true });
    const headers = this.upstreamHeaders(req, extras);
    this.tracing.inject(headers);
    return new Promise<ForwardResult>((resolve) => {
      const body = hasBody ? req : null;
      const relay = new ResponseRelay(req, res, body, extras.setCookies, this.responseHeaders, resolve);
      this.dispatcher.dispatch(
        { path: this.basePath + extras.url, method, headers, body },
        relay as unknown as Dispatcher.DispatchHandler,
      );
    });
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

/** Why an upstream request is given up when its client has gone (one instance: nothing per request). */
const CLIENT_GONE = new Error('the client closed the connection');

/**
 * Relays one upstream response into the client's response, as an undici dispatch handler: the
 * head is written once as a flat `[name, value, …]` list straight from undici's raw header
 * buffers, body chunks go into `res` with its backpressure (`false` from `res.write` pauses the
 * upstream until `drain`), and the end ends it. What `Pool.stream` does, without what it adds per
 * request for generality (an AsyncResource, a parsed header object, `stream.finished` with its
 * half-dozen listeners): this is every proxied request's path.
 *
 * The head keeps the upstream's headers without hop-by-hop ones, adds `securityHeaders` only
 * where the application said nothing, and appends an allow decision's own cookies to the
 * application's, never replacing them. A client that goes away mid-response aborts the upstream
 * request; an upstream that fails before the head resolves `ok: false` (the caller answers 502),
 * after it the response is cut (its status already went out).
 */
class ResponseRelay {
  private abort: ((err?: Error) => void) | null = null;
  private started = false;
  private done = false;
  /** undici's resume for this request, called on the response's `drain` while the body flows. */
  private resume: (() => void) | null = null;
  /** Body bytes still to come when the upstream gave a Content-Length (see onData). */
  private unsent: number | undefined;
  /** The body's last bytes went out with `res.end` already. */
  private ended = false;

  /** The client's connection, watched while the response is pending (see the constructor). */
  private socket: Duplex | null;

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    body: IncomingMessage | null,
    private readonly setCookies: readonly string[] | undefined,
    private readonly securityHeaders: ReadonlyArray<[string, string]>,
    private resolve: ((r: ForwardResult) => void) | null,
  ) {
    // A client body that breaks off fails the upstream request (undici reads it as the request body).
    body?.on('error', (err) => this.onError(err));
    // The client went away — waiting for the head, or before the body was through: stop the
    // upstream request (its connection goes back to the pool, or is closed).
    // `on`, not `once` (which wraps the listener per call): `close` comes once, and clientClosed is idempotent.
    res.on('close', this.clientClosed);
    // A response queued behind a pipelined one is not attached to the connection yet and hears
    // nothing when the client leaves (Node closes only the response in progress): the connection
    // itself says so. Watched until this response is done (the connection outlives it).
    this.socket = res.socket ? null : req.socket;
    if (this.socket) whenClosed(this.socket, this.clientClosed);
  }

  /**
   * This response is done: stop watching the client's connection for it, and let a late `drain`
   * no longer resume the upstream connection (by then it may carry another request).
   */
  private unwatch(): void {
    if (this.socket) forgetClose(this.socket, this.clientClosed);
    this.socket = null;
    if (this.resume) this.res.off('drain', this.resume);
    this.resume = null;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.done) abort(CLIENT_GONE);
  }

  private readonly clientClosed = (): void => {
    if (this.done) return;
    this.done = true;
    this.unwatch();
    // Nothing is left to answer: not an upstream failure for the caller to log and answer 502.
    this.settle({ ok: true });
    this.abort?.(CLIENT_GONE);
  };

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    // 1xx informational answers are the upstream hop's own: the client gets the final one.
    if (statusCode < 200 || this.done) return true;
    const res = this.res;
    const own = this.setCookies;
    const head: string[] = [];
    let listed: Set<string> | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = util.headerNameToString(raw[i]!);
      const value = raw[i + 1]!.toString('latin1');
      if (HOP_BY_HOP.has(name)) {
        // Names the upstream's `Connection` lists are hop-by-hop for its hop too (RFC 9110 §7.6.1).
        if (name === 'connection') listed = listedInConnection(value, listed);
        continue;
      }
      if (name === 'content-length') {
        // Not on a 204 (RFC 9110 §8.6 forbids it) or a 304 (a cache ignores it there, RFC 9111
        // §3.2; strict clients such as undici fail the response over the body it announces).
        if (bodiless(statusCode)) continue;
        this.unsent = Number(value);
      }
      head.push(name, value);
    }
    if (listed) dropNamed(head, listed);
    for (const [name, value] of this.securityHeaders) if (!hasName(head, name)) head.push(name, value);
    if (own) for (const c of own) head.push('set-cookie', c);
    // Written first: a head Node refuses (it validates before sending anything) is still a 502.
    res.writeHead(statusCode, head);
    this.started = true;
    this.settle({ ok: true });
    this.resume = resume;
    res.on('drain', resume);
    return res.writableNeedDrain !== true;
  }

  onData(chunk: Buffer): boolean {
    // The last bytes of a body of known length: the head, the body and the end go out in one
    // `end` (the same one write the socket makes anyway, with one less trip through Node's
    // write path). The message is complete; onComplete follows in this same parse.
    if (this.unsent !== undefined) this.unsent -= chunk.length;
    if (this.unsent === 0) {
      this.ended = true;
      this.res.end(chunk);
      return true;
    }
    return this.res.write(chunk);
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    this.unwatch();
    if (!this.ended) this.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.unwatch();
    // A 304 (or 204) may state the length of the representation it does not send (RFC 9110
    // §8.6); undici takes the missing body for a short one. The client's answer is complete.
    if (this.started && bodiless(this.res.statusCode) && isLengthMismatch(err)) {
      this.res.end();
      return;
    }
    if (this.started) this.res.destroy(err);
    else this.settle({ ok: false, cause: describeCause(err) });
  }

  private settle(r: ForwardResult): void {
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.(r);
  }
}

/** Statuses that never have a body, whatever their Content-Length says. */
function bodiless(status: number): boolean {
  return status === 304 || status === 204;
}

function isLengthMismatch(err: Error): boolean {
  return (err as Error & { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';
}

/** Whether the flat header list names `name` (lower-case). */
function hasName(head: readonly string[], name: string): boolean {
  for (let i = 0; i < head.length; i += 2) if (head[i] === name) return true;
  return false;
}
