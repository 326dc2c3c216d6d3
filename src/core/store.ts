import type { GatehouseConfig } from '../config/schema.js';
import { MemoryStore } from '../store/memoryStore.js';
import type { SessionStore } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** The session store `session.store` names (Redis is loaded only when chosen). */
export async function createStore(cfg: GatehouseConfig, clock: Clock, logger: Logger): Promise<SessionStore> {
  if (cfg.session.store === 'redis') {
    const { RedisStore } = await import('../store/redisStore.js');
    return RedisStore.connect(cfg, clock, logger);
  }
  return new MemoryStore({
    maxSessions: cfg.session.maxSessions,
    maxFlows: cfg.login.maxPendingFlowsTotal,
    clock,
  });
}
