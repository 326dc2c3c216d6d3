import type { GatehouseConfig } from '../config/schema.js';
import type { SessionStore } from '../session/store.js';
import { MemoryStore } from '../store/memoryStore.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** The session store `session.store` names (Redis is loaded only when chosen). */
export async function createStore(cfg: GatehouseConfig, clock: Clock, logger: Logger): Promise<SessionStore> {
  const s = cfg.session;
  if (s.store === 'redis') {
    const { openRedisStore } = await import('../store/redisStore.js');
    return openRedisStore(
      {
        url: s.redisUrl,
        sentinels: s.redisSentinels,
        sentinelName: s.redisSentinelName,
        clusterNodes: s.redisClusterNodes,
        commandTimeoutMs: s.redisCommandTimeoutMs,
        keyPrefix: s.redisKeyPrefix,
        cacheTtlMs: s.cacheTtlMs,
        maxPendingFlows: cfg.login.maxPendingFlowsTotal,
      },
      logger,
    );
  }
  return new MemoryStore({
    maxSessions: cfg.session.maxSessions,
    maxFlows: cfg.login.maxPendingFlowsTotal,
    clock,
  });
}
