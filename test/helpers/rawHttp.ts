import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** A raw TCP connection to an http:// URL that keeps everything it receives. */
export interface RawConnection {
  socket: Socket;
  /** All bytes received so far, as latin1 text. */
  received(): string;
  /** Resolves when the server has closed the connection (either way: FIN or reset). */
  closed: Promise<void>;
  /** Resolves once `received()` matches `pattern`; fails after `timeoutMs` with `what`. */
  until(pattern: RegExp, what: string, timeoutMs?: number): Promise<void>;
}

export async function openRaw(url: string): Promise<RawConnection> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  let text = '';
  const waiters = new Set<() => void>();
  socket.on('data', (c: Buffer) => {
    text += c.toString('latin1');
    for (const w of waiters) w();
  });
  socket.on('error', () => {}); // a reset is a close, for these tests
  // Not events.once: it rejects on 'error', and a reset (ECONNRESET on a pending write) is a close here.
  const closed = new Promise<void>((r) => socket.once('close', () => r())).then(() => {
    for (const w of waiters) w();
  });
  await once(socket, 'connect');
  return {
    socket,
    received: () => text,
    closed,
    until(pattern, what, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(text)) done(resolve);
          else if (socket.destroyed)
            done(() => reject(new Error(`${what}: closed; got ${JSON.stringify(text)}`)));
        };
        const timer = setTimeout(
          () =>
            done(() => reject(new Error(`${what}: not within ${timeoutMs} ms; got ${JSON.stringify(text)}`))),
          timeoutMs,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Waits for the server to close `c`, failing with `what` after `timeoutMs`; resolves with the ms it took from `since`. */
export async function closedWithin(
  c: RawConnection,
  timeoutMs: number,
  what: string,
  since = performance.now(),
): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), Math.max(0, timeoutMs - (performance.now() - since)));
  });
  const outcome = await Promise.race([c.closed.then(() => 'closed' as const), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    c.socket.destroy();
    assert.fail(`${what}: still open after ${timeoutMs} ms`);
  }
  return performance.now() - since;
}
