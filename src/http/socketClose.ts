import type { Duplex } from 'node:stream';

/**
 * Who waits on a client connection's close for a response that is queued on it (pipelined):
 * Node closes only the response in progress when the connection goes, and the ones queued behind
 * it never hear of it (no `close`). One `close` listener per connection, however many requests
 * the client pipelined (a listener per response would pile up on a long keep-alive connection).
 */
const waitingOn = new WeakMap<Duplex, Set<() => void>>();

/** Calls `gone` once when `socket` closes, unless `forgetClose` is called first. */
export function whenClosed(socket: Duplex, gone: () => void): void {
  let waiting = waitingOn.get(socket);
  if (!waiting) {
    const set = new Set<() => void>();
    waiting = set;
    waitingOn.set(socket, set);
    socket.once('close', () => {
      waitingOn.delete(socket);
      for (const f of set) f();
    });
  }
  waiting.add(gone);
}

/** `gone` no longer waits on `socket` (its response is done). */
export function forgetClose(socket: Duplex, gone: () => void): void {
  waitingOn.get(socket)?.delete(gone);
}
