import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { SlotTable } from '../util/slotTable.js';

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
  /** Bounded by the responses in flight at once (one per connection, plus pipelined ones). */
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
    server.prependListener('request', (_req: IncomingMessage, res: Tracked) => {
      res[SLOT] = inFlight.add(res);
      if (this.draining) res.shouldKeepAlive = false;
      res.on('close', closed);
    });
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
