import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { type MetricsListener, startMetricsListener } from '../http/metricsServer.js';
import type { Logger } from '../util/log.js';
import { isMessage, type ListeningMessage, type ShutdownMessage, WORKER_SLOT_ENV } from './messages.js';

export interface PrimaryOptions {
  /** How many workers (≥ 2; one process needs no primary). */
  workers: number;
  /** The module each worker runs, and its arguments (`serve --config FILE ...`). */
  entry: string;
  args: string[];
  /** `metrics.listen`: the primary serves the workers' metrics there, summed. */
  metricsListen: string | undefined;
  /** Each worker drains within this; the primary waits a little longer before it kills one. */
  shutdownTimeoutSeconds: number;
  /** Log lines of the primary itself (`worker: 0`). */
  logger: Logger;
  /** Printed once every worker listens (the URL they share). */
  onListening(url: string): void;
}

/** A worker that crashes sooner than this after its start counts towards giving up. */
const HEALTHY_AFTER_MS = 60_000;
/** Restart delays: 0.5 s, doubling, at most 30 s. */
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Crashes in a row (each sooner than HEALTHY_AFTER_MS after its start) before the primary gives up. */
const MAX_QUICK_CRASHES = 8;
/** The primary waits this much beyond shutdownTimeoutSeconds for a worker's own drain. */
const SHUTDOWN_MARGIN_MS = 5000;

interface Slot {
  readonly n: number;
  worker: Worker | undefined;
  startedAt: number;
  quickCrashes: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * The primary of `server.workers: N`: forks N workers that share the listen socket (node:cluster
 * hands each accepted connection to one of them in turn) and serves no request itself. It serves
 * the metrics (the workers' summed), forwards SIGHUP, drains every worker on SIGTERM/SIGINT, and
 * restarts a worker that dies (with backoff; a worker crashing over and over ends the primary,
 * so the supervisor above sees the crash loop instead of a gateway at partial strength).
 * Resolves once every worker listens; the process exits from here (shutdown, or a failed start).
 */
export async function runPrimary(o: PrimaryOptions): Promise<void> {
  const log = o.logger;
  // Workers run the serve command's module directly, with the same loader flags (tsx under
  // development) but without an `-e` script the primary may have been started with.
  cluster.setupPrimary({ exec: o.entry, args: o.args, execArgv: workerExecArgv(process.execArgv) });
  const own = new Registry();
  const restarts = new Counter({
    name: 'gatehouse_worker_restarts_total',
    help: 'Workers (server.workers) restarted by the primary after dying unexpectedly',
    registers: [own],
  });
  const running = new Gauge({
    name: 'gatehouse_workers',
    help: 'Worker processes (server.workers) currently listening',
    registers: [own],
  });
  const aggregator = new AggregatorRegistry();
  let metrics: MetricsListener | undefined;
  if (o.metricsListen !== undefined) {
    metrics = await startMetricsListener(
      o.metricsListen,
      {
        contentType: aggregator.contentType,
        // The workers' sums, then the primary's own counters (names of their own: no clash).
        metrics: async () => `${await aggregator.clusterMetrics()}${await own.metrics()}`,
      },
      log,
    );
  }

  const slots: Slot[] = Array.from({ length: o.workers }, (_, i) => ({
    n: i + 1,
    worker: undefined,
    startedAt: 0,
    quickCrashes: 0,
    restartTimer: undefined,
  }));
  const listening = new Set<Slot>();
  let stopping = false;
  let started = false;
  let resolveStarted!: () => void;
  const allListening = new Promise<void>((resolve) => {
    resolveStarted = resolve;
  });

  const fork = (slot: Slot) => {
    slot.restartTimer = undefined;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.n) });
    slot.worker = worker;
    worker.on('message', (m: unknown) => {
      if (!isMessage<ListeningMessage>(m, 'gatehouse:listening')) return;
      listening.add(slot);
      running.set(listening.size);
      log.info(
        { pid: worker.process.pid, slot: slot.n },
        `worker ${slot.n} listening (pid ${worker.process.pid})`,
      );
      if (!started && listening.size === o.workers) {
        started = true;
        o.onListening(m.url);
        resolveStarted();
      }
    });
    worker.on('exit', (code, signal) => {
      listening.delete(slot);
      running.set(listening.size);
      if (slot.worker === worker) slot.worker = undefined;
      if (stopping) return;
      if (!started) {
        // A worker that cannot start (a configuration the provider refuses: 78) fails the start,
        // as one process would.
        log.error({ slot: slot.n, code, signal }, `worker ${slot.n} failed to start; stopping`);
        void stopAll(code && code > 0 ? code : 1);
        return;
      }
      const quick = Date.now() - slot.startedAt < HEALTHY_AFTER_MS;
      slot.quickCrashes = quick ? slot.quickCrashes + 1 : 1;
      if (slot.quickCrashes > MAX_QUICK_CRASHES) {
        log.error(
          { slot: slot.n, code, signal, crashes: slot.quickCrashes - 1 },
          `worker ${slot.n} died ${slot.quickCrashes - 1} times in a row within ${HEALTHY_AFTER_MS / 1000} s of starting; giving up (exit 1) so the supervisor sees the crash loop`,
        );
        void stopAll(1);
        return;
      }
      const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (slot.quickCrashes - 1));
      log.error(
        { slot: slot.n, pid: worker.process.pid, code, signal, restartInMs: delay },
        `worker ${slot.n} (pid ${worker.process.pid}) died unexpectedly (${signal ?? `exit ${code}`}); restarting in ${delay} ms`,
      );
      restarts.inc();
      slot.restartTimer = setTimeout(() => fork(slot), delay);
    });
  };

  /** Drains every worker (each runs its own graceful shutdown), then exits with `code`. */
  let stopped: Promise<void> | undefined;
  const stopAll = (code: number) => {
    stopped ??= (async () => {
      stopping = true;
      for (const s of slots) clearTimeout(s.restartTimer);
      const live = slots.filter((s) => s.worker && !s.worker.isDead());
      const alive = live.map((s) => s.worker!);
      const exited = alive.map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
      const shutdown: ShutdownMessage = { type: 'gatehouse:shutdown' };
      for (const s of live) {
        // A message, not SIGTERM: after a Ctrl-C the workers already got SIGINT from the terminal,
        // and a second signal would make them exit at once instead of draining. A worker still
        // starting has no drain to run: SIGTERM ends it.
        if (listening.has(s) && s.worker!.isConnected()) s.worker!.send(shutdown);
        else s.worker!.process.kill('SIGTERM');
      }
      const killAfter = setTimeout(
        () => {
          log.warn('shutdown: workers still running past shutdownTimeoutSeconds; killing them');
          for (const w of alive) w.process.kill('SIGKILL');
        },
        o.shutdownTimeoutSeconds * 1000 + SHUTDOWN_MARGIN_MS,
      );
      await Promise.all(exited);
      clearTimeout(killAfter);
      await metrics?.close();
      process.exit(code);
    })();
    return stopped;
  };

  // The first SIGTERM/SIGINT drains every worker; a second one (of either kind) exits at once.
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const s of slots) s.worker?.process.kill('SIGKILL');
      process.exit(130);
    }
    process.stderr.write(
      `gatehouse: ${signal}: draining ${o.workers} workers (requests and refreshes in flight, at most ${o.shutdownTimeoutSeconds} s); send it again to exit at once\n`,
    );
    void stopAll(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Every worker re-reads the configuration itself (src/cli.ts, watchForReload). Only to workers
  // that listen: one still starting has no SIGHUP handler yet (the signal would end it), and it
  // reads the file as it is now anyway.
  process.on('SIGHUP', () => {
    log.info(`SIGHUP: forwarded to ${listening.size} workers`);
    for (const s of listening) s.worker?.process.kill('SIGHUP');
  });

  log.info({ workers: o.workers }, `starting ${o.workers} workers`);
  for (const slot of slots) fork(slot);
  await allListening;
}

/** `process.execArgv` without an `-e`/`-p` script (and its text): a worker runs `entry` instead. */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') {
      i++;
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=')) continue;
    out.push(a);
  }
  return out;
}
