import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { GatehouseError } from '../../util/errors.js';

/** A Redis node's address (Sentinel or Cluster seed). */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where Redis is and how to talk to it (from `session.redis*`; error messages name those keys,
 * since that is where an operator fixes them).
 */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host[:port][/db]` or `rediss://…` (TLS). */
  url: string;
  /** Sentinel mode when non-empty, with `sentinelName` the monitored master. */
  sentinels: RedisNode[];
  sentinelName?: string;
  /** Cluster mode when non-empty: the seed nodes. */
  clusterNodes: RedisNode[];
  /** A command that has not answered within this many ms fails (commands are never queued). */
  commandTimeoutMs: number;
}

/** Plus the client name shown by `CLIENT LIST` (the subscriber gets `-sub` appended). */
type ClientOptions = RedisConnectionOptions & { connectionName: string };

export interface ParsedRedisUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** `?sentinelPassword=` (and `sentinelUsername`) for Sentinels that require their own auth. */
  sentinelUsername?: string;
  sentinelPassword?: string;
}

/** `redis://[user:pass@]host[:port][/db]` or `rediss://...` (TLS). */
export function parseRedisUrl(raw: string): ParsedRedisUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new GatehouseError('config_invalid', 500, 'session.redisUrl is not a URL', {
      message: 'session.redisUrl: not a URL — use redis://host:6379 or rediss://host:6380',
    });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new GatehouseError('config_invalid', 500, 'session.redisUrl must use redis:// or rediss://', {
      message: `session.redisUrl: unsupported scheme ${u.protocol} — use redis:// or rediss:// (TLS)`,
    });
  }
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) {
    throw new GatehouseError('config_invalid', 500, 'session.redisUrl has a bad database number', {
      message: `session.redisUrl: "/${dbText}" is not a database number`,
    });
  }
  const out: ParsedRedisUrl = {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    tls: u.protocol === 'rediss:',
  };
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  const su = u.searchParams.get('sentinelUsername');
  const sp = u.searchParams.get('sentinelPassword');
  if (su) out.sentinelUsername = su;
  if (sp) out.sentinelPassword = sp;
  return out;
}

/** Capped exponential backoff with jitter, so many replicas do not reconnect in lockstep. */
export function reconnectDelay(attempt: number, capMs = 1000): number {
  const base = Math.min(capMs, 50 * 2 ** Math.min(attempt - 1, 10));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Fail fast: no offline queue (a command while disconnected is rejected at once), a command
 * timeout, no retry or silent re-send of in-flight commands after a reconnect (a CAS write whose
 * caller was told "failed" must not be applied later), and reconnection with capped backoff.
 */
function commonOptions(s: ClientOptions, p: ParsedRedisUrl): RedisOptions {
  const o: RedisOptions = {
    connectTimeout: Math.max(2000, s.commandTimeoutMs * 2),
    commandTimeout: s.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableReadyCheck: true,
    // How long close() lets a socket end gracefully; ioredis's 2 s default holds a stopping process.
    disconnectTimeout: 200,
    connectionName: s.connectionName,
  };
  if (p.username) o.username = p.username;
  if (p.password) o.password = p.password;
  // Node verifies the certificate against the host actually connected to (each node in Cluster mode).
  if (p.tls) o.tls = {};
  return o;
}

export interface Clients {
  /** Commands and scripts. */
  client: Redis | Cluster;
  /** A second connection for SUBSCRIBE (a subscribed connection cannot run commands). */
  subscriber: Redis | Cluster;
  /** For logs: mode and addresses, never credentials. */
  describe: string;
  mode: 'standalone' | 'sentinel' | 'cluster';
}

/** Standalone, Sentinel or Cluster clients. */
export function createClients(s: ClientOptions): Clients {
  const subName = `${s.connectionName}-sub`;
  const p = parseRedisUrl(s.url);
  const common = commonOptions(s, p);
  if (s.clusterNodes.length) {
    const opts: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: false,
      enableReadyCheck: true,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => reconnectDelay(times),
      slotsRefreshTimeout: Math.max(1000, s.commandTimeoutMs),
    };
    const nodes = s.clusterNodes.map((n) => ({ host: n.host, port: n.port }));
    return {
      client: new Cluster(nodes, opts),
      subscriber: new Cluster(nodes, { ...opts, redisOptions: { ...common, connectionName: subName } }),
      describe: `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
      mode: 'cluster',
    };
  }
  const opts: RedisOptions = {
    ...common,
    db: p.db,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    retryStrategy: (times) => reconnectDelay(times),
  };
  if (s.sentinels.length) {
    if (!s.sentinelName) {
      throw new GatehouseError(
        'config_invalid',
        500,
        'session.redisSentinelName is required with redisSentinels',
        {
          message:
            'session.redisSentinelName: required when session.redisSentinels is set (the monitored master name)',
        },
      );
    }
    opts.sentinels = s.sentinels.map((n) => ({ host: n.host, port: n.port }));
    opts.name = s.sentinelName;
    opts.sentinelRetryStrategy = (times) => reconnectDelay(times);
    if (p.sentinelUsername) opts.sentinelUsername = p.sentinelUsername;
    if (p.sentinelPassword) opts.sentinelPassword = p.sentinelPassword;
    if (p.tls) opts.enableTLSForSentinelMode = true;
    return {
      client: new Redis(opts),
      subscriber: new Redis({ ...opts, connectionName: subName }),
      describe: `sentinel ${s.sentinelName} via ${opts.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`,
      mode: 'sentinel',
    };
  }
  opts.host = p.host;
  opts.port = p.port;
  return {
    client: new Redis(opts),
    subscriber: new Redis({ ...opts, connectionName: subName }),
    describe: `${p.tls ? 'rediss' : 'redis'}://${p.host}:${p.port}/${p.db}`,
    mode: 'standalone',
  };
}
