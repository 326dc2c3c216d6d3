import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { isMessage, type ListeningMessage, type ShutdownMessage, WORKER_SLOT_ENV } from './messages.js';

/** This process's slot (1..N) when it is a worker of `server.workers`, else undefined. */
export function workerSlot(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  return Number.isInteger(slot) && slot > 0 ? slot : cluster.worker?.id;
}

/**
 * Answers the primary's metrics requests from the start (before the gateway exists they are
 * answered empty), so a scrape during a worker's start-up does not wait for it to time out.
 */
export function answerMetricsRequests(): void {
  new AggregatorRegistry(); // its constructor installs prom-client's worker-side IPC listener
}

/**
 * Joins the primary once the gateway listens: its metrics go into the primary's sums, the primary
 * learns it listens, and a shutdown from the primary runs `onShutdown` (the same drain as SIGTERM).
 */
export function joinPrimary(registry: Registry, url: string, onShutdown: () => void): void {
  AggregatorRegistry.setRegistries([registry]);
  process.on('message', (m: unknown) => {
    if (isMessage<ShutdownMessage>(m, 'gatehouse:shutdown')) onShutdown();
  });
  const listening: ListeningMessage = { type: 'gatehouse:listening', url };
  process.send?.(listening);
}
