import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { SlotTable } from '../util/slotTable.js';
import { forgetClose, whenClosed } from './socketClose.js';

/** A response's slot in the drain's table, kept on the response itself. */
const SLOT = Symbol('gatehouse.drainSlot');
type Tracked = ServerResponse & { [SLOT]?: number };

/**
 * Tracks the requests a server is answering, so that shutdown can let them finish: a rolling
 * deploy must not reset a request that is waiting for a refresh or half-way through a proxied
 * upload.
 *
 * Once draining, responses carry `Connection: close` (those already in flight too, when their
 * headers are not yet sent), so keep-alive clients move to another replica instead of sending
 * their next request to one that is going away.
 *
 * The responses in flight are kept in a SlotTable, not a `Set`: a `Set` with one add and one
 * delete per request had every request's objects promoted to the old generation (see
 * slotTable.ts), a quarter of the gateway's CPU under load.
 */
export class RequestDrain {
  /** Bounded by the responses in flight at once (one per connection, plus pipelined ones, released when their connection closes). */
  private readonly inFlight = new SlotTable<ServerResponse>();
  private draining = false;
  /** Callers of idle() still waiting; woken when the last request in flight closes. */
  private readonly waiters: Array<() => void> = [];

  constructor(server: Server) {
    // One listener function for every response (`this` is the response): nothing made per request.
    const { inFlight, waiters } = this;
    function closed(this: Tracked): void {
      const slot = this[SLOT];
      if (slot === undefined || !inFlight.remove(slot, this)) return;
      if (inFlight.size === 0) for (const wake of waiters.splice(0)) wake();
    }
    const track = (req: IncomingMessage, res: Tracked): void => {
      res[SLOT] = inFlight.add(res);
      if (this.draining) res.shouldKeepAlive = false;
      res.on('close', closed);
      // Queued behind a pipelined response (no socket yet): when the client goes, Node closes the
      // response in progress but never this one, which would then stay counted for good (idle()
      // would never resolve; a pipelining flood would grow the table without bound).
      if (!res.socket) {
        const socket = req.socket;
        const gone = () => closed.call(res);
        whenClosed(socket, gone);
        res.on('close', () => forgetClose(socket, gone));
      }
    };
    server.prependListener('request', track);
    // `Expect: 100-continue` requests come as 'checkContinue' instead, when the server listens
    // for it (the gateway's own server does, to answer before the body is sent): an upload in
    // flight is waited for, and told `Connection: close`, like any request. Without a listener
    // Node answers the 100 itself and emits 'request'; adding one here would change that.
    if (server.listenerCount('checkContinue') > 0) server.prependListener('checkContinue', track);
  }

  get active(): number {
    return this.inFlight.size;
  }

  /**
   * Starts draining (`Connection: close` from now on) and resolves when no request is in flight.
   * The caller bounds the wait; the requests left are closed with their connections.
   */
  idle(): Promise<void> {
    this.draining = true;
    this.inFlight.forEach((res) => {
      if (!res.headersSent) res.shouldKeepAlive = false;
    });
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
