import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Decision } from '../engine/decision.js';
import type { RequestFacts } from '../engine/facts.js';
import type { Logger } from '../util/log.js';

export interface OpenSocketsDeps {
  /** The engine's decision for a request; a re-check replays the upgrade request. */
  check: (f: RequestFacts) => Promise<Decision>;
  /** The session store's `invalidate` events: a session key, or undefined for "any session". */
  storeEvents: EventEmitter;
  /** Periodic re-check interval; 0 re-checks only when the store reports a change. */
  recheckMs: number;
  logger: Logger;
  /** Called with the count after every change, and with the status of every socket ended. */
  onCount?: (open: number) => void;
  onEnded?: (status: 401 | 403) => void;
}

/** Re-checks run at most this many at a time (bounded IdP and store load after a mass change). */
const RECHECK_WORKERS = 4;

/** Sockets of skip-auth paths: no session to follow, closed at shutdown only. */
const UNBOUND = Symbol('unbound');

interface Entry {
  socket: Duplex;
  facts: RequestFacts;
  /** The session it is bound to (UNBOUND: a skip-auth path); a reload may bind it. */
  key: string | typeof UNBOUND;
}

/**
 * Upgraded connections (WebSockets) outlive the request that authorized them, so they stay bound
 * to their session: re-authorized by the engine at once when the store reports a change to that
 * session (logout, back-channel logout, refresh, eviction — on any replica, through Redis pub/sub)
 * and every `recheckMs` (expiry), and closed when the re-check answers 401 (session ended) or
 * 403 (access lost). A 503 (IdP or store outage) keeps them open, as requests keep being served
 * through an outage.
 *
 * Bounded: one entry per open socket, dropped when it closes; one interval; re-checks run at most
 * four at a time from a queue of session keys (a key is queued once however often it changes).
 */
export class OpenSockets {
  private readonly byKey = new Map<string | typeof UNBOUND, Set<Entry>>();
  private readonly queue = new Set<string>();
  private draining: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  /** Workers running, and the keys they are re-checking (a worker not in one is picking a key). */
  private active = 0;
  private readonly inFlight = new Set<string>();
  private count = 0;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onInvalidate = (key: string | undefined) => this.recheck(key);

  constructor(private readonly deps: OpenSocketsDeps) {
    deps.storeEvents.on('invalidate', this.onInvalidate);
    if (deps.recheckMs > 0) {
      this.timer = setInterval(() => this.recheck(), deps.recheckMs);
      this.timer.unref();
    }
  }

  get size(): number {
    return this.count;
  }

  /**
   * Tracks an upgraded socket until it closes. With the store key of the session that authorized
   * it, the socket is bound to that session; without (a skip-auth path) it is only closed at shutdown.
   */
  add(socket: Duplex, facts: RequestFacts, key: string | undefined): void {
    if (socket.destroyed) return;
    // An upgrade that completes after shutdown began is not carried on unwatched.
    if (this.closed) {
      socket.destroy();
      return;
    }
    const entry: Entry = { socket, facts, key: key ?? UNBOUND };
    this.bind(entry);
    this.setCount(this.count + 1);
    socket.once('close', () => {
      if (!this.unbind(entry)) return;
      this.setCount(this.count - 1);
    });
  }

  private bind(entry: Entry): void {
    let set = this.byKey.get(entry.key);
    if (!set) {
      set = new Set();
      this.byKey.set(entry.key, set);
    }
    set.add(entry);
  }

  private unbind(entry: Entry): boolean {
    const s = this.byKey.get(entry.key);
    if (!s?.delete(entry)) return false;
    if (s.size === 0) this.byKey.delete(entry.key);
    return true;
  }

  /**
   * After a configuration reload: every socket is re-authorized under the new rules, those of
   * skip-auth paths too (the path may no longer be exempt). A socket still allowed stays open; one
   * that now needed its session is bound to it from then on. Unbound sockets are re-checked one at
   * a time (bounded), session-bound ones through the usual queue.
   */
  async recheckAll(): Promise<void> {
    const sessions = this.recheck();
    for (const e of [...(this.byKey.get(UNBOUND) ?? [])]) {
      if (e.socket.destroyed || this.closed) continue;
      const d = await this.decide(e);
      if (d?.type === 'allow' && d.sessionKey !== undefined && !e.socket.destroyed && this.unbind(e)) {
        e.key = d.sessionKey;
        this.bind(e);
      }
    }
    await sessions;
  }

  /** Queues a re-check of one session's sockets (or of all); resolves when the queue is drained. */
  recheck(key?: string): Promise<void> {
    if (key === undefined) {
      for (const k of this.byKey.keys()) if (k !== UNBOUND) this.queue.add(k);
    } else if (this.byKey.has(key)) this.queue.add(key);
    return this.kick();
  }

  /**
   * Starts workers (up to RECHECK_WORKERS) while keys wait; resolves when all workers are done.
   * A slow re-check occupies one worker only: a key queued meanwhile gets a free one at once.
   */
  private kick(): Promise<void> {
    while (
      this.active < RECHECK_WORKERS &&
      this.active === this.inFlight.size &&
      this.pickable() !== undefined
    ) {
      if (this.active === 0) {
        this.draining = new Promise<void>((resolve) => {
          this.drained = resolve;
        });
      }
      this.active++;
      void this.worker().finally(() => {
        this.active--;
        if (this.active === 0) {
          this.drained?.();
          this.draining = undefined;
          if (this.queue.size > 0) void this.kick();
        }
      });
    }
    return this.draining ?? Promise.resolve();
  }

  /** Shutdown: stops watching and closes every socket (clients reconnect, e.g. to another replica). */
  close(): void {
    this.closed = true;
    this.deps.storeEvents.off('invalidate', this.onInvalidate);
    if (this.timer) clearInterval(this.timer);
    this.queue.clear();
    for (const set of this.byKey.values()) for (const e of set) e.socket.destroy();
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = this.pickable();
      if (key === undefined) return;
      this.queue.delete(key);
      this.inFlight.add(key);
      try {
        await this.recheckKey(key);
      } finally {
        this.inFlight.delete(key);
      }
    }
  }

  /** The first queued key not being re-checked right now (a key changed during its check waits its turn). */
  private pickable(): string | undefined {
    for (const k of this.queue) if (!this.inFlight.has(k)) return k;
    return undefined;
  }

  private async recheckKey(key: string): Promise<void> {
    for (const e of [...(this.byKey.get(key) ?? [])]) {
      if (e.socket.destroyed) continue;
      await this.decide(e);
    }
  }

  /** Re-authorizes one socket and closes it on 401/403; the decision, or undefined when the check threw. */
  private async decide(e: Entry): Promise<Decision | undefined> {
    let d: Decision;
    try {
      d = await this.deps.check(e.facts);
    } catch (err) {
      this.deps.logger.warn({ reqId: e.facts.requestId, err: String(err) }, 'websocket re-check failed');
      return undefined;
    }
    if (d.type === 'error' && (d.status === 401 || d.status === 403)) {
      this.deps.logger.info(
        { reqId: e.facts.requestId, path: e.facts.path, status: d.status, decision: d.code },
        d.status === 401 ? 'websocket closed: session ended' : 'websocket closed: access lost',
      );
      e.socket.destroy();
      this.deps.onEnded?.(d.status);
    }
    return d;
  }

  private setCount(n: number): void {
    this.count = n;
    this.deps.onCount?.(n);
  }
}
