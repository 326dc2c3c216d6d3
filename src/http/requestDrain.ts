import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Tracks the requests a server is answering, so that shutdown can let them finish: a rolling
 * deploy must not reset a request that is waiting for a refresh or half-way through a proxied
 * upload.
 *
 * Once draining, responses carry `Connection: close` (those already in flight too, when their
 * headers are not yet sent), so keep-alive clients move to another replica instead of sending
 * their next request to one that is going away.
 */
export class RequestDrain {
  /** Bounded by the open connections (one request at a time each; no pipelining past it). */
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private idle: Array<() => void> = [];

  constructor(server: Server) {
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.inFlight.add(res);
      if (this.draining) res.shouldKeepAlive = false;
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.inFlight.size === 0) for (const wake of this.idle.splice(0)) wake();
      });
    });
  }

  get active(): number {
    return this.inFlight.size;
  }

  /** Resolves true when no request is in flight, false when `timeoutMs` ran out first. */
  drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    for (const res of this.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idle = this.idle.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.idle.push(wake);
    });
  }
}
