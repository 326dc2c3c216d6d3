import type { ConfigAsWritten } from './schema.js';

/**
 * Why `workers` processes cannot run with this store, or undefined when they can. Each worker is a
 * process of its own: with the memory store a session made on one is unknown to the others (a
 * user would be logged out at random), and refresh single-flight and logout would stop at the
 * process boundary. Redis shares all of it, as it does across replicas.
 */
export function workersStoreProblem(
  workers: number,
  setting: number | 'auto',
  store: ConfigAsWritten['session']['store'],
): string | undefined {
  if (workers <= 1 || store !== 'memory') return undefined;
  const what = setting === 'auto' ? `auto (${workers} CPUs here)` : String(workers);
  return `server.workers: ${what} needs session.store: redis — with the memory store each worker process would keep its own sessions (a sign-in on one worker is unknown to the others, and logout and refresh would not be shared); set session.store: redis (and session.redisUrl), or server.workers: 1`;
}
