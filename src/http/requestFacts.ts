import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { normalizeUrl } from '../authz/normalizePath.js';
import type { ErrorDecision } from '../engine/decision.js';
import type { RequestFacts } from '../engine/facts.js';
import {
  refuseTarget,
  STRICT_TARGET,
  TARGET_REFUSAL_REASONS,
  type TargetRules,
  targetRefusal,
} from '../engine/requestTarget.js';
import { clientAddressOf, HOST_VALUE, requestHostOf } from './clientAddress.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A request id: the caller's when it looks sane (so traces join up), else a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = one(req.headers['x-request-id']);
  return given && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The facts of a request: the target as decided on, and the ones that come from the client's own
 * headers (forwarded as is by a forward-auth proxy). One object literal, built once per request
 * (a spread of a second object into it took a runtime call per request).
 */
function requestFacts(
  req: IncomingMessage,
  method: string,
  path: string,
  url: string,
  host: string,
  secure: boolean,
  requestId: string,
): RequestFacts {
  const h = req.headers;
  return {
    method,
    path,
    url,
    host,
    secure,
    cookieHeader: h.cookie,
    authorization: h.authorization,
    accept: h.accept,
    secFetchMode: one(h['sec-fetch-mode']),
    secFetchDest: one(h['sec-fetch-dest']),
    xRequestedWith: one(h['x-requested-with']),
    secFetchSite: one(h['sec-fetch-site']),
    origin: one(h.origin),
    referer: one(h.referer),
    clientIp: clientAddressOf(req),
    requestId,
  };
}

/**
 * The facts of a request, or the 400 that refuses its target (`#`, a backslash, `%25`: see
 * refuseTarget). `facts` is there either way, so the refusal is shaped (page or JSON) like any
 * other answer; a refused request must be answered before any routing.
 */
export type NodeFacts =
  | { ok: true; facts: RequestFacts }
  | { ok: false; facts: RequestFacts; refusal: ErrorDecision };

/**
 * Builds engine facts from a node:http request. `secure` comes from publicUrl, never from a header.
 * `rawUrl` overrides `req.url` (a middleware mounted under a prefix sees a shortened `req.url`);
 * `target` is `proxy.allowEncodedPercent`.
 */
export function factsFromNode(
  req: IncomingMessage,
  secure: boolean,
  requestId: string,
  rawUrl: string = req.url ?? '/',
  target: TargetRules = STRICT_TARGET,
): NodeFacts {
  // Decide on, and forward, one canonical path (see normalizePath).
  const { path, url } = normalizeUrl(rawUrl);
  const facts = requestFacts(req, req.method ?? 'GET', path, url, requestHostOf(req), secure, requestId);
  const refused = refuseTarget(rawUrl, target);
  if (refused) return { ok: false, facts, refusal: targetRefusal(refused) };
  // RFC 9112 §3.2: an invalid Host is answered 400. Routes are chosen by it, so a spelling no
  // route names (`admin.example.com.`, `admin.example.com@x`) must not fall through to a
  // catch-all route whose upstream may route it, by that same Host, to the admin application.
  const hostHeader = req.headers.host;
  if (hostHeader !== undefined && hostHeader !== '' && !HOST_VALUE.test(hostHeader)) {
    return { ok: false, facts, refusal: badHost() };
  }
  return { ok: true, facts };
}

function badHost(): ErrorDecision {
  return {
    type: 'error',
    status: 400,
    code: 'bad_request',
    reason:
      'The Host header is not a host name (letters, digits, dots and dashes, or an IP literal, and an optional port; no trailing dot).',
    setCookies: [],
  };
}

export type ForwardedFacts =
  | { ok: true; facts: RequestFacts }
  | {
      ok: false;
      /** Safe to show: which forwarded header is missing or malformed. */
      reason: string;
      /** Present when only the described target was refused (`#`, backslash, `%25`). */
      facts?: RequestFacts;
    };

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters and spaces are refused in a request target
const BAD_URI_CHARS = /[\u0000-\u0020\u007f]/;
const METHOD = /^[A-Za-z]{1,20}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
const MAX_URI = 8192;

/** The single value of a header; `multiple` when a proxy chain (or a client) sent it twice. */
export function single(req: IncomingMessage, name: string): string | undefined | { multiple: true } {
  const v = req.headersDistinct[name];
  if (!v || v.length === 0) return undefined;
  if (v.length > 1) return { multiple: true };
  return v[0];
}

/** First element of a comma-separated forwarded header (the hop nearest the client). */
function firstOfList(v: string): string {
  const i = v.indexOf(',');
  return (i === -1 ? v : v.slice(0, i)).trim();
}

/**
 * Builds engine facts for a forward-auth request (nginx `auth_request`, Traefik `forwardAuth`,
 * Caddy `forward_auth`): the request being authorized is not this one but the one the proxy
 * describes in `X-Original-URI` / `X-Forwarded-Uri`, `X-Forwarded-Method`, `X-Forwarded-Host` and
 * `X-Forwarded-Proto`. The Cookie, Accept and Sec-Fetch-* headers are the client's, which every
 * one of these proxies passes along. Only the forward-auth endpoints call this; nowhere else are
 * X-Forwarded-* headers trusted.
 *
 * The path decides authorization, so it must not be ambiguous: when both URI headers are present
 * they must agree (a client behind Caddy or Traefik can add an `X-Original-URI` of its own, and a
 * client behind nginx an `X-Forwarded-Uri`), and none may be sent twice; a `#`, a backslash or
 * `%25` in it is refused as it is for a request to the gateway itself (see refuseTarget).
 *
 * `facts.url` is the absolute original URL (`proto://host/path?query`, path normalised), so the
 * login return URL goes through the same open-redirect check (`safeReturnTo`) as `rd`.
 */
export function forwardedFactsFromNode(
  req: IncomingMessage,
  secure: boolean,
  requestId: string,
  defaultProto: 'http' | 'https',
  target: TargetRules = STRICT_TARGET,
  /**
   * nginx `auth_request` only (/oauth2/auth): a subrequest that names the URI but neither
   * X-Forwarded-Host nor X-Forwarded-Method — what oauth2-proxy's nginx examples send — is the
   * subrequest's own `Host` (nginx sets it to `$host`, the host it routed by) and `GET` (nginx
   * makes every auth subrequest a GET, and rules do not depend on the method). One of the two
   * without the other stays an error: that is a half-written configuration.
   */
  inferHostAndMethod = false,
): ForwardedFacts {
  const fail = (reason: string): ForwardedFacts => ({ ok: false, reason });
  const values: Record<string, string | undefined> = {};
  for (const name of [
    'x-original-uri',
    'x-forwarded-uri',
    'x-forwarded-method',
    'x-forwarded-host',
    'x-forwarded-proto',
  ]) {
    const v = single(req, name);
    if (typeof v === 'object') return fail(`The ${name} header was sent more than once.`);
    values[name] = v;
  }
  const original = values['x-original-uri'];
  const forwarded = values['x-forwarded-uri'];
  if (original !== undefined && forwarded !== undefined && original !== forwarded) {
    return fail('X-Original-URI and X-Forwarded-Uri disagree; the proxy must set one and strip the other.');
  }
  const uri = original ?? forwarded;
  let method = values['x-forwarded-method'];
  let hostList = values['x-forwarded-host'];
  if (inferHostAndMethod && uri !== undefined && method === undefined && hostList === undefined) {
    const own = single(req, 'host');
    if (typeof own === 'string') {
      method = 'GET';
      hostList = own;
    }
  }
  const missing = [
    uri === undefined ? 'X-Original-URI (or X-Forwarded-Uri)' : '',
    method === undefined ? 'X-Forwarded-Method' : '',
    hostList === undefined ? 'X-Forwarded-Host' : '',
  ].filter(Boolean);
  if (missing.length || uri === undefined || method === undefined || hostList === undefined) {
    return fail(
      `This is a forward-auth endpoint: the proxy must describe the original request in ${missing.join(', ')}.`,
    );
  }
  if (!uri.startsWith('/') || uri.length > MAX_URI || BAD_URI_CHARS.test(uri)) {
    return fail('The forwarded URI must be an origin-form request target (starting with "/").');
  }
  if (!METHOD.test(method)) return fail('X-Forwarded-Method is not an HTTP method.');
  const host = firstOfList(hostList);
  if (!HOST.test(host)) return fail('X-Forwarded-Host is not a host name.');
  const protoRaw = values['x-forwarded-proto'];
  const proto = protoRaw === undefined ? defaultProto : firstOfList(protoRaw).toLowerCase();
  if (proto !== 'http' && proto !== 'https') return fail('X-Forwarded-Proto must be http or https.');

  const { path, url } = normalizeUrl(uri);
  const facts = requestFacts(
    req,
    method.toUpperCase(),
    path,
    `${proto}://${host}${url}`,
    host,
    secure,
    requestId,
  );
  // The same refusal as for a request to the gateway itself (see factsFromNode).
  const refused = refuseTarget(uri, target);
  if (refused) {
    const header = original !== undefined ? 'X-Original-URI' : 'X-Forwarded-Uri';
    return { ok: false, reason: `${header}: ${TARGET_REFUSAL_REASONS[refused]}`, facts };
  }
  return { ok: true, facts };
}
