// Small node:http helpers. Every parser here is total: bad input yields a value the caller can
// reject with a 4xx, never an exception that would turn into a 500.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';

export const MAX_BODY_BYTES = 64 * 1024;

export class BodyTooLargeError extends Error {
  constructor() {
    super(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
}

/** Reads at most `limit` bytes; a larger body rejects early instead of being buffered. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    // Discard what the client still sends, so it can read our 413 instead of hitting a reset.
    req.resume();
    return Promise.reject(new BodyTooLargeError());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export interface ParsedTarget {
  pathname: string;
  query: URLSearchParams;
}

/**
 * Splits the request target by hand: `new URL(req.url, base)` would read `//evil/x` as a
 * host, and this server only ever sees origin-form targets.
 */
export function parseTarget(raw: string | undefined): ParsedTarget {
  const target = raw ?? '/';
  const q = target.indexOf('?');
  const pathname = q === -1 ? target : target.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
  return { pathname, query };
}

export type Params = { values: Record<string, string>; duplicate: string | undefined };

/** RFC 6749 §3.1: a parameter sent twice is an invalid request, not "first one wins". */
export function singleParams(params: URLSearchParams): Params {
  const values: Record<string, string> = Object.create(null);
  let duplicate: string | undefined;
  for (const [k, v] of params) {
    if (k in values) duplicate ??= k;
    else values[k] = v;
  }
  return { values, duplicate };
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function isFormRequest(req: IncomingMessage): boolean {
  return mediaType(req) === 'application/x-www-form-urlencoded';
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    // Token and userinfo responses must never be cached (RFC 6749 §5.1); harmless elsewhere.
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** The login page needs no scripts, frames or foreign resources; say so. */
const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/** `csp`: a page with a script of its own (the live console) names exactly what it allows. */
export function sendHtml(res: ServerResponse, status: number, html: string, csp = PAGE_CSP): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': csp,
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/** http(s) URL on localhost, *.localhost, 127.0.0.0/8 or [::1], without a fragment (RFC 6749 §3.1.2). */
export function isLoopbackUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.hash !== '' || value.includes('#')) return false;
  if (url.username !== '' || url.password !== '') return false;
  const host = url.hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** `Basic base64(urlencode(id):urlencode(secret))` per RFC 6749 §2.3.1; undefined when malformed. */
export function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic +([A-Za-z0-9+/=_-]+) *$/i.exec(header);
  if (m?.[1] === undefined) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/** `Bearer TOKEN` (RFC 6750) or GitHub's legacy `token TOKEN`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:Bearer|token) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return m?.[1];
}
