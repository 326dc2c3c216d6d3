import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { GatehouseConfig } from '../config/schema.js';
import { SlotTable } from '../util/slotTable.js';
import { RAW_SECURITY_HEADERS } from './respond.js';
import { answerAndClose } from './socketAnswer.js';

export type ServerLimits = Pick<
  GatehouseConfig['server'],
  | 'headersTimeoutSeconds'
  | 'requestTimeoutSeconds'
  | 'keepAliveTimeoutSeconds'
  | 'writeTimeoutSeconds'
  | 'maxConnections'
>;

/**
 * How often Node looks for requests past their headers/request timeout. Node's default (30 s)
 * would turn a 20 s headers timeout into up to 50 s; one pass over the open connections a second
 * costs next to nothing.
 */
export const CONNECTIONS_CHECK_MS = 1000;

/**
 * Options for `http.createServer` that cut slow clients off (slowloris): the request head must
 * arrive within `headersTimeoutSeconds`, the whole request (head and body) within
 * `requestTimeoutSeconds`; an idle keep-alive connection closes after `keepAliveTimeoutSeconds`.
 * Node answers a late request `408` and closes it. Upgraded sockets (WebSockets) are no longer
 * HTTP requests to Node, so none of these apply to them.
 */
export function serverOptions(l: ServerLimits): ServerOptions {
  const requestTimeout = Math.round(l.requestTimeoutSeconds * 1000);
  return {
    headersTimeout: Math.round(l.headersTimeoutSeconds * 1000),
    // 0 turns the whole-request timeout off (the headers timeout still holds).
    requestTimeout,
    keepAliveTimeout: Math.round(l.keepAliveTimeoutSeconds * 1000),
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
}

const REFUSED_BODY = JSON.stringify({
  error: 'over_capacity',
  reason: 'The gateway has too many open connections; try again shortly.',
});
const REFUSED = `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(REFUSED_BODY)}\r\ncache-control: no-store\r\nretry-after: 1\r\n${RAW_SECURITY_HEADERS}connection: close\r\n\r\n${REFUSED_BODY}`;

/**
 * Caps the open connections at `max`. A socket beyond it never reaches the HTTP parser: it is
 * answered `503` + `Retry-After: 1` + `Connection: close` at once (what it sends is read and
 * discarded, so the close is a clean FIN, not a reset that could swallow the answer) and closed
 * when the client closes or after 1 s. Beyond `max` plus a margin for those short-lived refusals,
 * Node drops new sockets without a word (`server.maxConnections`), so a flood cannot exhaust
 * file descriptors either. `onRefused` is called for every refused socket.
 */
export function capConnections(server: Server, max: number, onRefused: () => void): void {
  // http.Server's own 'connection' listener hands the socket to the HTTP parser; run it only
  // for sockets under the cap.
  const accept = server.listeners('connection') as Array<(this: Server, socket: Socket) => void>;
  for (const l of accept) server.removeListener('connection', l);
  let open = 0;
  server.on('connection', function (this: Server, socket: Socket) {
    if (open >= max) {
      onRefused();
      answerAndClose(socket, REFUSED);
      return;
    }
    open++;
    socket.once('close', () => open--);
    for (const l of accept) l.call(this, socket);
  });
  server.maxConnections = max + Math.max(64, Math.ceil(max / 10));
  server.on('drop', onRefused);
}

/**
 * Cuts connections whose client has stopped reading: a socket with data waiting to be written
 * (`writableLength > 0`) whose `bytesWritten` has not moved for `stallMs` is destroyed. The
 * server's timeouts only cover *receiving* a request; without this, a client that sends one
 * `GET` (or a batch of pipelined ones) and never reads the answers keeps its socket — and a slot
 * under `server.maxConnections` — for as long as it likes: Node stops reading a socket whose
 * answers do not drain, so no request timeout ever fires. Checked every `CONNECTIONS_CHECK_MS`
 * for every open connection (bounded by the connection cap); a client that reads, however
 * slowly, always makes progress and is never cut. Upgraded WebSockets are watched the same way.
 */
export function cutStalledWriters(server: Server, stallMs: number, onCut: () => void): void {
  // A SlotTable, not a Map keyed by socket: a connection per request (clients without keep-alive)
  // would otherwise have every socket's objects promoted to the old generation (see slotTable.ts).
  const watched = new SlotTable<Watched>();
  server.on('connection', (socket: Socket) => {
    const w: Watched = { socket, written: 0, since: performance.now() };
    const slot = watched.add(w);
    socket.once('close', () => watched.remove(slot, w));
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    watched.forEach((w, slot) => {
      const socket = w.socket;
      if (socket.writableLength === 0 || socket.bytesWritten !== w.written) {
        w.written = socket.bytesWritten;
        w.since = now;
      } else if (now - w.since >= stallMs) {
        watched.remove(slot, w);
        socket.destroy();
        onCut();
      }
    });
  }, CONNECTIONS_CHECK_MS);
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}

/** A connection under watch for a stalled reader, and how far its writes had got. */
interface Watched {
  socket: Socket;
  written: number;
  since: number;
}

/**
 * Calls `log(count)` for the first refusal and then at most once per `intervalMs` with the
 * refusals since the last line, so a flood writes a line every interval, not one per socket.
 */
export function throttled(intervalMs: number, log: (count: number) => void): () => void {
  let last = Number.NEGATIVE_INFINITY;
  let pending = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === 0) return;
    last = performance.now();
    const n = pending;
    pending = 0;
    log(n);
  };
  return () => {
    pending++;
    const since = performance.now() - last;
    if (since >= intervalMs) flush();
    else if (!scheduled) {
      scheduled = true;
      setTimeout(flush, intervalMs - since).unref();
    }
  };
}
