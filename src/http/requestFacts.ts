import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestFacts } from '../engine/facts.js';
import { normalizeUrl } from '../engine/normalizePath.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A request id: the caller's when it looks sane (so traces join up), else a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = one(req.headers['x-request-id']);
  return given && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** Builds engine facts from a node:http request. `secure` comes from publicUrl, never from a header. */
export function factsFromNode(req: IncomingMessage, secure: boolean, requestId: string): RequestFacts {
  // Decide on, and forward, one canonical path (see normalizePath).
  const { path, url } = normalizeUrl(req.url ?? '/');
  return {
    method: req.method ?? 'GET',
    path,
    url,
    host: req.headers.host ?? '',
    secure,
    cookieHeader: req.headers.cookie,
    accept: req.headers.accept,
    secFetchMode: one(req.headers['sec-fetch-mode']),
    secFetchDest: one(req.headers['sec-fetch-dest']),
    xRequestedWith: one(req.headers['x-requested-with']),
    clientIp: req.socket.remoteAddress ?? '',
    requestId,
  };
}
