/**
 * What the primary and its workers say to each other over the cluster IPC channel (prom-client's
 * metrics requests travel on the same channel with types of their own).
 */

/** Worker → primary: the gateway listens (the URL the primary prints once all do). */
export interface ListeningMessage {
  type: 'gatehouse:listening';
  url: string;
}

/** Primary → worker: drain and exit, as on SIGTERM (sent instead of a signal: see primary.ts). */
export interface ShutdownMessage {
  type: 'gatehouse:shutdown';
}

/** The environment variable that gives a worker its slot (1..N), kept across restarts. */
export const WORKER_SLOT_ENV = 'GATEHOUSE_WORKER_SLOT';

export function isMessage<T extends { type: string }>(m: unknown, type: T['type']): m is T {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}
