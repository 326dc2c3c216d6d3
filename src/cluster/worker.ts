import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { isMessage, type ListeningMessage, type ShutdownMessage, WORKER_SLOT_ENV } from './messages.js';

/**
 * This process's slot (1..N) when our primary forked it for `server.workers`, else undefined —
 * also in a cluster worker of another supervisor (pm2's cluster mode): that is one whole gateway
 * with its own metrics listener, as before.
 */
export function workerSlot(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[WORKER_SLOT_ENV]);
  return Number.isInteger(slot) && slot > 0 ? slot : undefined;
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
