import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { GatehouseConfig } from '../config/schema.js';
import { IDENTITY_HEADER_NAMES } from '../identity/identity.js';
import { plainAddress } from '../util/ipAddress.js';
import { type ClientAddressResolver, requestHostOf } from './clientAddress.js';

/**
 * Request headers Gatehouse sets or rebuilds itself. A client's copy — in any spelling an
 * upstream could read as the same name — never reaches the application: WSGI, PHP, CGI and Rack
 * turn `X_Forwarded_User`, `X.Forwarded.User` and `X-Forwarded-User` into one
 * `HTTP_X_FORWARDED_USER` (oauth2-proxy CVE-2025-64484, Traefik GHSA-x677-9fxg-v5c5).
 */
const REBUILT = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x-request-id'];
/**
 * Headers that tell an upstream "the request was really for another URL, scheme, host or client":
 * Symfony/Laminas/IIS honour `X-Original-URL`/`X-Rewrite-URL` over the request line (authorized as
 * `/x`, served as `/admin`); Spring, Jetty, Undertow and Quarkus read RFC 7239 `Forwarded`. We
 * authorize the request line we forward, and rebuild forwarding data ourselves, so a client's
 * copy of any of these would only let it pick what the upstream believes.
 */
const OVERRIDES = [
  'forwarded',
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'x-original-host',
  'x-host',
];
const MANAGED = new Set<string>([...IDENTITY_HEADER_NAMES, ...REBUILT, ...OVERRIDES]);
/**
 * Whole families we own: any name under these prefixes is ours. `x-forwarded-` covers the ones
 * not rebuilt (`-Port`, `-Prefix`, `-Server`, `-Ssl`, `-Scheme`, `-Uri`, `-Method`): no trusted
 * hop wrote them for this upstream.
 */
const MANAGED_PREFIXES = ['x-forwarded-', 'x-auth-request-', 'x-gatehouse-'];

/**
 * Characters besides letters, digits and `-` that HTTP allows in a header name; CGI-style
 * upstreams turn each of them into `_`, exactly as they do `-`, so each builds an alias.
 */
const ALIASING = /[^a-z0-9-]/;
const ALIASING_ALL = /[^a-z0-9-]/g;

export interface ManagedHeaderOptions {
  /** `proxy.allowUnderscoreHeaders`: keep headers whose name contains `_` (or another aliasing character). */
  allowUnderscoreHeaders: boolean;
  /** `headers.passAuthorizationHeader`: Gatehouse sets `Authorization`, so the client's never passes. */
  setsAuthorization: boolean;
  /**
   * The names of the templated headers (`headers.templates`, lower-case): Gatehouse sets them, so
   * a client's copy never passes, in any spelling, whether or not the template renders.
   */
  templateNames?: Iterable<string>;
}

/**
 * One predicate for every front door that hands a request on (reverse proxy, WebSocket upgrade,
 * middleware): should this client request header (name lower-cased, as Node gives it) be dropped?
 */
export class ManagedHeaders {
  private readonly allowUnderscore: boolean;
  private readonly setsAuthorization: boolean;
  /** Template names; a template name has one spelling (letters, digits, `-`: headerTemplates.ts). */
  private readonly templated: ReadonlySet<string>;

  constructor(opts: ManagedHeaderOptions) {
    this.allowUnderscore = opts.allowUnderscoreHeaders;
    this.setsAuthorization = opts.setsAuthorization;
    this.templated = new Set([...(opts.templateNames ?? [])].map((n) => n.toLowerCase()));
  }

  drops(name: string): boolean {
    if (MANAGED.has(name) || this.templated.has(name)) return true;
    let n = name;
    // The slow path only for the rare name with `_`, `.`, `~`...: nginx drops those by default
    // (`underscores_in_headers off`, `ignore_invalid_headers on`), and so do we.
    if (ALIASING.test(n)) {
      if (!this.allowUnderscore) return true;
      n = n.replace(ALIASING_ALL, '-');
      if (MANAGED.has(n) || this.templated.has(n)) return true;
    }
    if (n.charCodeAt(0) === 0x78 /* x */ && MANAGED_PREFIXES.some((p) => n.startsWith(p))) return true;
    return this.setsAuthorization && n === 'authorization';
  }
}

/**
 * The predicate for a configuration (`proxy.allowUnderscoreHeaders`, `headers.passAuthorizationHeader`,
 * the names of `headers.templates`). Templates are restart-only (config/reload.ts), so the names
 * read at start hold for the process.
 */
export function managedHeadersFor(
  cfg: Pick<GatehouseConfig, 'proxy' | 'headers'> & Partial<Pick<GatehouseConfig, 'routes'>>,
): ManagedHeaders {
  return new ManagedHeaders({
    allowUnderscoreHeaders: cfg.proxy.allowUnderscoreHeaders,
    setsAuthorization: cfg.headers.passAuthorizationHeader,
    // Every route's template names: a front door that hands requests on for all routes drops them all.
    templateNames: [
      ...Object.keys(cfg.headers.templates ?? {}),
      ...(cfg.routes ?? []).flatMap((r) => Object.keys(r.headers.templates ?? {})),
    ],
  });
}

/** X-Forwarded-For as the request arrived: undefined when absent, lists joined. */
function priorChain(h: IncomingHttpHeaders): string | undefined {
  const v = h['x-forwarded-for'];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

export interface ForwardingFacts {
  /** The socket's peer (`::ffff:10.0.0.1` written `10.0.0.1`). */
  peer: string;
  /** The peer is one of `server.trustedProxies`: its X-Forwarded-For is believed. */
  peerTrusted: boolean;
  /** The X-Forwarded-For chain the trusted peer sent (never a client's own). */
  trustedChain: string | undefined;
  /** The client's address (ClientAddressResolver: the peer, or the right-most untrusted hop). */
  client: string;
}

/** Who sent the request, from the socket and `server.trustedProxies` only. */
export function forwardingFacts(req: IncomingMessage, resolver: ClientAddressResolver): ForwardingFacts {
  const peer = plainAddress(req.socket.remoteAddress ?? '');
  const chain = priorChain(req.headers);
  const peerTrusted = resolver.isTrusted(peer);
  return {
    peer,
    peerTrusted,
    trustedChain: peerTrusted ? chain : undefined,
    client: peerTrusted ? resolver.resolve(peer, chain) : peer,
  };
}

/**
 * Writes the forwarding headers Gatehouse sends on into `out`, rebuilt from trusted data: X-Forwarded-For is the
 * trusted proxy's chain plus the peer (just the peer when the peer is not a trusted proxy: a
 * client's X-Forwarded-For proves nothing), X-Real-IP the resolved client, X-Forwarded-Proto
 * from publicUrl, X-Forwarded-Host the Host the request was decided on. `appendPeer: false` for
 * the middleware, whose application still has the socket (appending would make Express's
 * `trust proxy: 1` take the proxy for the client).
 */
export function forwardingHeaders(
  req: IncomingMessage,
  facts: ForwardingFacts,
  secure: boolean,
  out: Record<string, string | string[]>,
  appendPeer = true,
): void {
  const { trustedChain, peer } = facts;
  if (appendPeer) out['x-forwarded-for'] = trustedChain ? `${trustedChain}, ${peer}` : peer;
  else if (trustedChain) out['x-forwarded-for'] = trustedChain;
  if (facts.client) out['x-real-ip'] = facts.client;
  out['x-forwarded-proto'] = secure ? 'https' : 'http';
  const host = requestHostOf(req);
  if (host) out['x-forwarded-host'] = host;
}
