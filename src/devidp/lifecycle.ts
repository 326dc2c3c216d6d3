// Tracks every timer and outbound request the dev IdP starts, so stop() can end them all and a
// test process exits as soon as its last server stops.

interface PendingDelay {
  timer: NodeJS.Timeout;
  resolve: (completed: boolean) => void;
}

export class Lifecycle {
  readonly #delays = new Set<PendingDelay>();
  readonly #aborts = new Set<AbortController>();
  #stopped = false;

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Resolves true after `ms`, or false at once when the server stops first. */
  delay(ms: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const pending: PendingDelay = {
        resolve,
        timer: setTimeout(() => {
          this.#delays.delete(pending);
          resolve(true);
        }, ms),
      };
      this.#delays.add(pending);
    });
  }

  /** An AbortSignal that fires after `ms` or on stop(); call done() when the work finishes. */
  abortable(ms: number): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    if (this.#stopped) controller.abort();
    const timer = setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms);
    this.#aborts.add(controller);
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        this.#aborts.delete(controller);
      },
    };
  }

  stop(): void {
    this.#stopped = true;
    for (const d of this.#delays) {
      clearTimeout(d.timer);
      d.resolve(false);
    }
    this.#delays.clear();
    for (const c of this.#aborts) c.abort(new Error('dev IdP stopped'));
    this.#aborts.clear();
  }
}
