import type { Duplex } from 'node:stream';

/** A refused socket is given this long to read its answer before it is closed regardless. */
export const ANSWER_LINGER_MS = 1000;

/**
 * Writes a complete raw HTTP answer to a socket that will not be served (an over-capacity
 * connection, a refused upgrade) and makes sure the socket goes away. What the client sends
 * meanwhile is read and discarded, so the close is a clean FIN rather than a reset that could
 * swallow the answer; the socket is destroyed when the client closes, or after
 * `ANSWER_LINGER_MS` — a client that keeps sending can never hold a connection slot.
 */
export function answerAndClose(socket: Duplex, answer: string, lingerMs = ANSWER_LINGER_MS): void {
  if (socket.destroyed) return;
  const destroy = () => socket.destroy();
  socket.on('error', destroy);
  socket.on('end', destroy);
  const timer = setTimeout(destroy, lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
  socket.end(answer);
}
