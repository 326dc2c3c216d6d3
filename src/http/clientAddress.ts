import type { IncomingMessage, Server } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import { plainAddress } from '../util/ipAddress.js';

/**
 * Who the client is, for rate limits, logs and the X-Forwarded-For / X-Real-IP we send upstream.
 *
 * The socket's peer is the client unless it is one of `server.trustedProxies`: then the peer is a
 * load balancer or reverse proxy we run, and the client is the right-most X-Forwarded-For entry
 * that is *not* one of ours (everything left of it was written by the client and proves nothing).
 * An X-Forwarded-For from an untrusted peer is never believed: anyone can send one.
 */
export class ClientAddressResolver {
  private readonly trusted: BlockList;
  readonly hasTrustedProxies: boolean;

  /** `cidrs`: `10.0.0.0/8`, `fd00::/8`, or bare addresses. Assumed validated by the config schema. */
  constructor(cidrs: readonly string[]) {
    this.trusted = new BlockList();
    for (const entry of cidrs) {
      const [addr = '', bits] = entry.split('/');
      const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.trusted.addAddress(addr, family);
      else this.trusted.addSubnet(addr, Number(bits), family);
    }
    this.hasTrustedProxies = cidrs.length > 0;
  }

  /** Is this (socket or forwarded) address one of our own proxies? */
  isTrusted(address: string | undefined): boolean {
    if (!this.hasTrustedProxies || !address) return false;
    const a = plainAddress(address);
    const family = isIP(a);
    if (family === 0) return false;
    return this.trusted.check(a, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client's address: the peer, or — when the peer is trusted — the right-most untrusted
   * X-Forwarded-For entry (the left-most entry when every hop is trusted).
   */
  resolve(peer: string | undefined, xForwardedFor: string | string[] | undefined): string {
    const socketAddr = plainAddress(peer ?? '');
    if (!this.isTrusted(socketAddr) || xForwardedFor === undefined) return socketAddr;
    const hops = (Array.isArray(xForwardedFor) ? xForwardedFor.join(',') : xForwardedFor)
      .split(',')
      .map((h) => plainAddress(h.trim()))
      .filter((h) => isIP(h) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.isTrusted(hops[i])) return hops[i]!;
    }
    return hops[0] ?? socketAddr;
  }
}

const RESOLVER = Symbol('gatehouse.clientAddressResolver');
type Tagged = { [RESOLVER]?: ClientAddressResolver };
/** Where no front door said otherwise, no proxy is trusted: the client is the socket's peer. */
const PEER_ONLY = new ClientAddressResolver([]);

/** Tells `clientAddressOf` which proxies to trust for this request (`server.trustedProxies`). */
export function useClientAddressResolver(req: IncomingMessage, resolver: ClientAddressResolver): void {
  (req as Tagged)[RESOLVER] = resolver;
}

/**
 * Every request (and upgrade) `server` receives resolves its client with `resolver`: attached to
 * each connection as it is accepted, before any request on it is parsed — once per connection,
 * not once per request (a property added to every request object made Node's own request
 * handling see two shapes of it, and a third `request` listener ran on every request).
 */
export function resolveClientsOf(server: Server, resolver: ClientAddressResolver): void {
  server.prependListener('connection', (socket: Socket) => {
    (socket as Tagged)[RESOLVER] = resolver;
  });
}

/** The resolver for a request: its own (the middleware's), else its connection's, else none trusted. */
function resolverOf(req: IncomingMessage): ClientAddressResolver {
  return (req as Tagged)[RESOLVER] ?? (req.socket as Tagged | undefined)?.[RESOLVER] ?? PEER_ONLY;
}

/**
 * The client of a request (RequestFacts.clientIp): the socket's peer, or — when the peer is a
 * trusted proxy — the right-most untrusted X-Forwarded-For entry. A forward-auth request is
 * read the same way: the proxy asking must be trusted for its X-Forwarded-For to count.
 */
export function clientAddressOf(req: IncomingMessage): string {
  return resolverOf(req).resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
}

/** A host name or IP literal with an optional port: what `Host` and `X-Forwarded-Host` may hold. */
export const HOST_VALUE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The host the client asked for: `Host`, or — from one of `server.trustedProxies` only — the
 * first entry of its `X-Forwarded-Host` (the proxy in front of us may route several names to one
 * Gatehouse). A client's own X-Forwarded-Host is never believed: it would choose the route.
 */
export function requestHostOf(req: IncomingMessage): string {
  const own = req.headers.host ?? '';
  // Most requests carry no X-Forwarded-Host: answer without `headersDistinct`, which Node builds
  // on first use as a second copy of every header (arrays and all) — on every request, otherwise.
  if (req.headers['x-forwarded-host'] === undefined) return own;
  const forwarded = req.headersDistinct['x-forwarded-host'];
  if (forwarded?.length !== 1) return own;
  if (!resolverOf(req).isTrusted(req.socket.remoteAddress)) return own;
  const first = forwarded[0]!.split(',')[0]!.trim();
  return HOST_VALUE.test(first) ? first : own;
}
