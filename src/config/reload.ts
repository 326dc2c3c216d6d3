import { isDeepStrictEqual } from 'node:util';
import type { GatehouseConfig } from './schema.js';

/**
 * The settings a running gateway takes from a re-read configuration (SIGHUP, `--watch`), without
 * dropping a session or a request in flight: who may reach what, what the upstream is told, how
 * much is logged, the routes (docs/routes.md; not a switch between `upstream` and `routes`), and the session secrets (a rotation: `session.secret` signs from now on, the
 * `previousSecrets` still verify). Everything else — listeners, the store, the provider and its
 * `clientSecret`, the other session keys (store, cookie name, lifetimes...) — is built once at
 * start; a change there is named as needing a restart and not applied.
 */
export const RELOADABLE_KEYS = [
  'authorization',
  'skipAuth',
  'headers.passAccessToken',
  'headers.maxGroupsHeaderBytes',
  'logging.level',
  'session.secret',
  'session.previousSecrets',
  'routes',
] as const;

export type ReloadableSettings = Pick<
  GatehouseConfig,
  'authorization' | 'skipAuth' | 'headers' | 'logging' | 'session' | 'routes'
>;

export interface ReloadPlan {
  /** Reloadable keys whose value changed: applied. */
  applied: string[];
  /** Other keys whose value changed: kept as running until a restart. */
  needsRestart: string[];
  /**
   * The settings to run with: the new reloadable values; for the sections that mix reloadable
   * and restart-only keys (`headers`, `logging`, `session`), the restart-only ones keep their
   * running value.
   */
  settings: ReloadableSettings;
}

/** What differs between the running and the re-read configuration, and what of it can apply now. */
export function planReload(running: GatehouseConfig, next: GatehouseConfig): ReloadPlan {
  const applied: string[] = [];
  const needsRestart: string[] = [];
  const reloadable = new Set<string>(RELOADABLE_KEYS);
  // Going from the single `upstream` to `routes` (or back) changes what `upstream` means: a restart.
  const routesSwitch = (running.routes === undefined) !== (next.routes === undefined);
  for (const key of changedKeys(running, next)) {
    (reloadable.has(key) && !(key === 'routes' && routesSwitch) ? applied : needsRestart).push(key);
  }
  return {
    applied,
    needsRestart,
    settings: {
      authorization: next.authorization,
      skipAuth: next.skipAuth,
      headers: {
        ...running.headers,
        passAccessToken: next.headers.passAccessToken,
        maxGroupsHeaderBytes: next.headers.maxGroupsHeaderBytes,
      },
      logging: { ...running.logging, level: next.logging.level },
      routes: routesSwitch ? running.routes : next.routes,
      session: {
        ...running.session,
        secret: next.session.secret,
        previousSecrets: next.session.previousSecrets,
      },
    },
  };
}

/**
 * Changed keys, top-level sections compared as wholes except those that mix reloadable and
 * restart-only keys, which are compared key by key (`headers.passAccessToken`, `session.secret`).
 */
function changedKeys(a: GatehouseConfig, b: GatehouseConfig): string[] {
  const split = new Set(RELOADABLE_KEYS.filter((k) => k.includes('.')).map((k) => k.split('.')[0]!));
  const out: string[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of [...keys].sort()) {
    const x = (a as Record<string, unknown>)[key];
    const y = (b as Record<string, unknown>)[key];
    if (split.has(key) && isObject(x) && isObject(y)) {
      for (const sub of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
        if (!isDeepStrictEqual(x[sub], y[sub])) out.push(`${key}.${sub}`);
      }
    } else if (!isDeepStrictEqual(x, y)) out.push(key);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
