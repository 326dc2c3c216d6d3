import type { Cluster, Redis } from 'ioredis';
import type { GatehouseConfig } from '../config/schema.js';
import { createClients } from '../store/redis/connection.js';
import { type CheckResult, fail, pass, reasonOf, warn } from './check.js';

/** PINGs timed for the latency figures. Sequential: a round trip each, as a request's store read. */
const PINGS = 100;

/** `INFO` text → field map (`# Section` headers and blank lines skipped). */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return out;
}

/** The q-quantile (0..1) of ascending `sorted`, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Every key Gatehouse writes has a TTL, so any policy but noeviction may drop live sessions. */
export function judgeEvictionPolicy(policy: string | undefined, maxmemory: string | undefined): CheckResult {
  const check = 'store.maxmemory-policy';
  if (policy === undefined) {
    return warn(
      check,
      'Redis did not say its maxmemory-policy',
      'set maxmemory-policy noeviction on this Redis',
    );
  }
  const limit = maxmemory && maxmemory !== '0' ? `maxmemory ${maxmemory} bytes` : 'no maxmemory limit yet';
  if (policy === 'noeviction') {
    return pass(
      check,
      `noeviction (${limit}): when memory is full, writes fail (503) and no live session is dropped`,
    );
  }
  return warn(
    check,
    `${policy} (${limit}): every Gatehouse key (sessions, refresh leases, login flows) has a TTL, so under memory pressure volatile-* and allkeys-* policies evict live sessions — users are signed out at random, and an evicted refresh lease lets two replicas spend one refresh token`,
    'CONFIG SET maxmemory-policy noeviction (and in redis.conf), with maxmemory sized for the sessions (docs/deployment.md, sizing)',
  );
}

function persistenceCheck(info: Map<string, string>, save: string | undefined): CheckResult {
  const check = 'store.persistence';
  const aof = info.get('aof_enabled') === '1';
  const rdb =
    save !== undefined
      ? save.trim() !== ''
      : info.get('rdb_last_save_time') !== undefined && info.get('rdb_saves') !== '0';
  const parts = [
    aof ? 'AOF on' : 'AOF off',
    save === undefined
      ? 'RDB schedule unknown (CONFIG GET refused)'
      : rdb
        ? `RDB snapshots (save ${save})`
        : 'no RDB snapshots',
  ];
  if (!aof && save !== undefined && !rdb) {
    return warn(
      check,
      `${parts.join(', ')}: a Redis restart signs everybody out`,
      'appendonly yes (or a save schedule), unless losing every session on a Redis restart is acceptable',
    );
  }
  return pass(check, parts.join(', '));
}

async function waitReady(client: Redis | Cluster, ms: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let last: unknown;
    const onError = (err: unknown) => {
      last = err;
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      client.off('error', onError);
      reject(new Error(`not ready within ${ms} ms${last ? `: ${reasonOf(last)}` : ''}`));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      client.off('error', onError);
      resolve();
    };
    client.once('ready', onReady);
    client.on('error', onError);
  });
}

/** Runs `fn` on one node: the client itself, or a master of a Cluster. */
function oneNode(client: Redis | Cluster): Redis {
  if ('nodes' in client && typeof client.nodes === 'function') {
    const masters = client.nodes('master');
    if (masters[0]) return masters[0];
  }
  return client as Redis;
}

/**
 * The Redis store, live: reachable, version, role, latency (p50/p99 of 100 PINGs),
 * maxmemory-policy, persistence, and the topology next to what the configuration says.
 * Connects exactly as the gateway does (store/redis/connection.ts), and never writes.
 */
export async function storeChecks(cfg: GatehouseConfig): Promise<CheckResult[]> {
  const s = cfg.session;
  if (s.store !== 'redis') return [pass('store', 'memory store: no Redis to check')];
  let clients: ReturnType<typeof createClients>;
  try {
    clients = createClients({
      url: s.redisUrl,
      sentinels: s.redisSentinels,
      sentinelName: s.redisSentinelName,
      clusterNodes: s.redisClusterNodes,
      commandTimeoutMs: s.redisCommandTimeoutMs,
      connectionName: `gatehouse-doctor-${process.pid}`,
    });
  } catch (err) {
    const e = err as { message?: string };
    return [fail('store.redis', e.message ?? String(err), 'fix the session.redis* keys named above')];
  }
  const { client, subscriber, describe, mode } = clients;
  // The doctor subscribes to nothing; its connection attempts stop here.
  subscriber.on('error', () => undefined);
  subscriber.disconnect();
  client.on('error', () => undefined);
  const out: CheckResult[] = [];
  try {
    const connectMs = Math.max(2000, s.redisCommandTimeoutMs * 2);
    try {
      await waitReady(client, connectMs);
    } catch (err) {
      return [
        fail(
          'store.redis',
          `${describe} is not reachable: ${reasonOf(err)}`,
          'check session.redisUrl (and redisSentinels / redisClusterNodes), that Redis runs, and that this host may reach it',
        ),
      ];
    }
    const node = oneNode(client);
    const info = parseInfo(await node.info());
    const version = info.get('redis_version') ?? 'unknown';
    const serverMode = info.get('redis_mode') ?? 'standalone';
    const role = info.get('role') ?? 'unknown';
    if (role === 'slave') {
      out.push(
        fail(
          'store.redis',
          `${describe}: Redis ${version} answers as a read-only replica: every session write fails`,
          'point session.redisUrl at the primary (or use redisSentinels so the current primary is found)',
        ),
      );
    } else {
      out.push(pass('store.redis', `${describe}: Redis ${version}, role ${role}`));
    }

    const times: number[] = [];
    for (let i = 0; i < PINGS; i++) {
      const t = process.hrtime.bigint();
      await client.ping();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    const p50 = quantile(times, 0.5);
    const p99 = quantile(times, 0.99);
    const latency = `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over ${PINGS} PINGs`;
    out.push(
      p99 * 4 > s.redisCommandTimeoutMs
        ? warn(
            'store.latency',
            `${latency}: the p99 is over a quarter of session.redisCommandTimeoutMs (${s.redisCommandTimeoutMs} ms), so busy moments will answer 503`,
            'run Redis closer to Gatehouse (same zone), or raise session.redisCommandTimeoutMs',
          )
        : pass('store.latency', latency),
    );

    out.push(judgeEvictionPolicy(info.get('maxmemory_policy'), info.get('maxmemory')));
    let save: string | undefined;
    try {
      const reply = (await node.config('GET', 'save')) as string[];
      save = reply[1];
    } catch {
      save = undefined; // managed Redis often renames or forbids CONFIG
    }
    out.push(persistenceCheck(info, save));

    if (serverMode === 'cluster' && mode !== 'cluster') {
      out.push(
        fail(
          'store.topology',
          'Redis runs in Cluster mode, but the configuration connects to one node (no session.redisClusterNodes): keys on other nodes answer MOVED',
          'list the seed nodes in session.redisClusterNodes',
        ),
      );
    } else if (mode === 'cluster') {
      const masters = 'nodes' in client ? client.nodes('master').length : 0;
      const state = parseInfo(String(await node.cluster('INFO'))).get('cluster_state') ?? 'unknown';
      out.push(
        state === 'ok'
          ? pass('store.topology', `Cluster, state ok, ${masters} primary node(s) connected`)
          : fail(
              'store.topology',
              `Cluster state ${state}`,
              'repair the cluster (redis-cli --cluster check)',
            ),
      );
    } else if (mode === 'sentinel') {
      out.push(
        pass('store.topology', `Sentinel: primary "${s.redisSentinelName}" found, failover follows it`),
      );
    } else {
      const replicas = info.get('connected_slaves') ?? '0';
      out.push(
        pass(
          'store.topology',
          `standalone${replicas !== '0' ? ` with ${replicas} replica(s)` : ''} (no Sentinel or Cluster configured)`,
        ),
      );
    }
  } catch (err) {
    out.push(
      fail(
        'store.redis',
        `${describe}: ${reasonOf(err)}`,
        'check that Redis answers (and ACLs allow INFO and PING)',
      ),
    );
  } finally {
    client.disconnect();
  }
  return out;
}
