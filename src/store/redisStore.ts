// Placeholder until the Redis store lands (issue 5); selecting `session.store: redis` fails clearly.
import type { GatehouseConfig } from '../config/schema.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { SessionStore } from './types.js';

export const RedisStore = {
  async connect(_cfg: GatehouseConfig, _clock: Clock, _logger: Logger): Promise<SessionStore> {
    throw new Error('session.store: redis is not available in this build yet — use session.store: memory');
  },
};
