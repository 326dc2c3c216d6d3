// The recent requests behind the live console (GET /__admin/events): a fixed-size ring buffer,
// filled by the router once per request when its response closes. Handlers may add what only
// they know (grant type, the tokens issued) with note(); notes live in a WeakMap keyed by the
// response, so a request that never closes leaves nothing behind.
//
// Tokens never enter the log: only fingerprints (the first 8 hex digits of their SHA-256), enough
// to see that the refresh token presented is the one issued before, useless to replay.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseTarget } from './http.js';

export const REQUEST_LOG_SIZE = 500;
/** Paths and client ids are client input: a long one is cut, so one entry stays small. */
const MAX_ENDPOINT_CHARS = 80;

/** The admin API and the console itself are not logged: the console polls them every second. */
export function isAdminPath(pathname: string): boolean {
  return pathname === '/__admin' || pathname.startsWith('/__admin/');
}

export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

/** What a handler can add to its request's entry. Token fields hold fingerprints, never tokens. */
export interface RequestNote {
  grantType?: string | undefined;
  clientId?: string | undefined;
  sub?: string | undefined;
  /** The OAuth error code answered, if any. */
  error?: string | undefined;
  family?: string | undefined;
  access?: string | undefined;
  refresh?: string | undefined;
  /** The refresh token the client presented (refresh grant). */
  presented?: string | undefined;
}

export interface RequestEvent extends RequestNote {
  /** 1, 2, 3, … in arrival of completion; `?since=N` answers the events after N. */
  seq: number;
  /** Milliseconds since the epoch (the dev IdP's clock) when the response closed. */
  at: number;
  method: string;
  endpoint: string;
  /** 0 when the connection closed before a response was sent (a reset fault, a hung-up client). */
  status: number;
  ms: number;
}

export interface RequestStart {
  method: string;
  endpoint: string;
  /** performance.now() at arrival. */
  startedAt: number;
}

export class RequestLog {
  readonly #ring: (RequestEvent | undefined)[];
  #seq = 0;
  readonly #notes = new WeakMap<ServerResponse, RequestNote>();

  constructor(readonly size = REQUEST_LOG_SIZE) {
    this.#ring = new Array(size);
  }

  /** The router's one call per request: logs it when its response closes, whatever happened. */
  watch(req: IncomingMessage, res: ServerResponse, now: () => number): void {
    const { pathname, query } = parseTarget(req.url);
    if (isAdminPath(pathname)) return;
    const start: RequestStart = {
      method: req.method ?? '',
      endpoint: pathname,
      startedAt: performance.now(),
    };
    const clientId = query.get('client_id');
    if (clientId) this.note(res, { clientId: clientId.slice(0, MAX_ENDPOINT_CHARS) });
    res.once('close', () => this.record(start, res, now(), performance.now()));
  }

  note(res: ServerResponse, fields: RequestNote): void {
    const note = this.#notes.get(res) ?? {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) note[k as keyof RequestNote] = v;
    this.#notes.set(res, note);
  }

  /** Called once per request when its response closes: O(1), one object written into the ring. */
  record(start: RequestStart, res: ServerResponse, at: number, endedAt: number): void {
    const seq = ++this.#seq;
    this.#ring[seq % this.size] = {
      seq,
      at,
      method: start.method,
      endpoint: start.endpoint.slice(0, MAX_ENDPOINT_CHARS),
      status: res.headersSent ? res.statusCode : 0,
      ms: Math.round((endedAt - start.startedAt) * 10) / 10,
      ...this.#notes.get(res),
    };
  }

  /** The events after `since`, oldest first; `latest` is the seq to ask from next time. */
  since(since: number): { latest: number; events: RequestEvent[] } {
    const from = Math.max(since + 1, this.#seq - this.size + 1, 1);
    const events: RequestEvent[] = [];
    for (let seq = from; seq <= this.#seq; seq++) {
      const e = this.#ring[seq % this.size];
      if (e !== undefined) events.push(e);
    }
    return { latest: this.#seq, events };
  }
}
