/**
 * Every key the Redis store writes, under one prefix. Each key carries a `{...}` hash tag around
 * its variable part so that, in Redis Cluster, a key's slot is chosen by what it is about and
 * every Lua script (all of them are single-key) stays on one node. Operations that span several
 * keys (a session and its index entries, a flow, its browser list and the pending-flow index) are
 * separate commands.
 *
 * Layout (P = `session.redisKeyPrefix`):
 *   P s:{<storeKey>}      hash  v=version d=record JSON l=lastSeenAt (touch) u=sub i=sid   PX = session TTL
 *   P sub:{<sub>}         zset  storeKey → expiry (ms); back-channel logout by subject
 *   P sid:{<sid>}         zset  storeKey → expiry (ms); back-channel logout by IdP session id
 *   P flow:{<state>}      string  login flow JSON                                         PX = flow TTL
 *   P flows:{<browserId>} list  the browser's pending states, oldest first (bounded)
 *   P pending:{flows}     zset  "<state> <browserId>" → created (ms): every pending flow, capped
 *                               at login.maxPendingFlowsTotal (the oldest evicted)  PX = flow TTL
 *   P rate:{<key>}        string  hit counter of a rate-limit window                     PX = window
 *   P once:{<key>}        string  replay marker (logout token jti)                         PX
 *   P lock:{<name>}       string  refresh lease holder's random token                      PX = lease
 *   P shared:{<name>}     string  a value every replica shares (the registered client, sealed)  no TTL
 * Channels: P invalidate (message: storeKey), P released (message: lock name).
 */
export class RedisKeys {
  readonly invalidateChannel: string;
  readonly releasedChannel: string;

  constructor(readonly prefix: string) {
    this.invalidateChannel = `${prefix}invalidate`;
    this.releasedChannel = `${prefix}released`;
  }

  session(key: string): string {
    return `${this.prefix}s:{${key}}`;
  }

  bySub(sub: string): string {
    return `${this.prefix}sub:{${sub}}`;
  }

  bySid(sid: string): string {
    return `${this.prefix}sid:{${sid}}`;
  }

  flow(state: string): string {
    return `${this.prefix}flow:{${state}}`;
  }

  browserFlows(browserId: string): string {
    return `${this.prefix}flows:{${browserId}}`;
  }

  /** One key for every pending flow of every replica: the total cap is enforced on it. */
  pendingFlows(): string {
    return `${this.prefix}pending:{flows}`;
  }

  rate(key: string): string {
    return `${this.prefix}rate:{${key}}`;
  }

  shared(name: string): string {
    return `${this.prefix}shared:{${name}}`;
  }

  once(key: string): string {
    return `${this.prefix}once:{${key}}`;
  }

  lock(name: string): string {
    return `${this.prefix}lock:{${name}}`;
  }
}
