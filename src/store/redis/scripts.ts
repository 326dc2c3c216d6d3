import type { Cluster, Redis } from 'ioredis';

/**
 * The Lua scripts of the Redis store. Every one touches exactly one key (KEYS[1]), so each is
 * atomic and Cluster-safe; PUBLISH takes no key and is allowed anywhere. Numbers that become
 * Redis arguments are formatted with `%.0f` (Lua's default `%.14g` would print 1.7e+12).
 */

/** Redis server time in ms (scripts run with effect replication, Redis ≥ 5). */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Compare-and-set write of a whole record, with its TTL, in one step (no partial record ever).
 * KEYS[1] session hash. ARGV: 1 expected version ('' = must not exist), 2 new version, 3 record
 * JSON, 4 ttl ms, 5 lastSeenAt, 6 sub, 7 sid ('' = none), 8 invalidation channel, 9 message.
 * `l` keeps the later of a touch and the record's own lastSeenAt; the TTL never shrinks (a touch
 * may have extended it). An overwrite publishes an invalidation for every replica's L1 cache.
 */
export const PUT = `
local cur = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[1] then
  return 0
end
local l = ARGV[5]
local old = redis.call('HGET', KEYS[1], 'l')
if old and tonumber(old) > tonumber(l) then l = old end
local ttl = tonumber(ARGV[4])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > ttl then ttl = pttl end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'l', l, 'u', ARGV[6], 'i', ARGV[7])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
if cur then redis.call('PUBLISH', ARGV[8], ARGV[9]) end
return 1
`;

/**
 * Idle-timeout bookkeeping without rewriting the record or its version.
 * KEYS[1] session hash. ARGV: 1 lastSeenAt, 2 ttl ms, 3 channel, 4 message.
 * Returns {sub, sid} so the caller can extend the index entries, or nil when there is no record.
 */
export const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local l = redis.call('HGET', KEYS[1], 'l')
if (not l) or tonumber(l) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'l', ARGV[1]) end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return redis.call('HMGET', KEYS[1], 'u', 'i')
`;

/** KEYS[1] session hash. ARGV: 1 channel, 2 message. Returns how many keys went (0 or 1). */
export const DELETE = `
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return n
`;

/**
 * Adds a session to a sub/sid index with an expiry score, prunes expired members, and keeps the
 * index alive exactly as long as its longest-lived member. KEYS[1] zset. ARGV: 1 member, 2 ttl ms.
 */
export const INDEX_ADD = `${NOW}
local exp = now + tonumber(ARGV[2])
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not old) or tonumber(old) < exp then redis.call('ZADD', KEYS[1], string.format('%.0f', exp), ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%.0f', now))
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(1, tonumber(last[2]) - now))) end
return 1
`;

/**
 * Appends a state to a browser's list of pending flows and evicts the oldest beyond the bound.
 * KEYS[1] list. ARGV: 1 state, 2 ttl ms, 3 max. Returns the evicted states (the caller deletes them).
 */
export const FLOW_ADD = `
redis.call('RPUSH', KEYS[1], ARGV[1])
local max = tonumber(ARGV[3])
local evicted = {}
while redis.call('LLEN', KEYS[1]) > max do
  evicted[#evicted + 1] = redis.call('LPOP', KEYS[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return evicted
`;

/**
 * Admits a flow into the index of every pending flow and enforces the total cap: members older
 * than the flow TTL are pruned (their flow keys have expired), and beyond `max` the oldest are
 * popped. KEYS[1] zset. ARGV: 1 member ("<state> <browserId>"), 2 ttl ms, 3 max.
 * Returns the evicted members; the caller deletes their flow keys and browser-list entries.
 */
export const FLOW_ADMIT = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%.0f', now - ttl))
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[1])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
local evicted = {}
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #popped, 2 do evicted[#evicted + 1] = popped[i] end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return evicted
`;

/**
 * Takes a flow only for the browser that started it (a leaked state used elsewhere burns nothing).
 * KEYS[1] flow string. ARGV: 1 browserId. Returns the flow JSON (now deleted), 0 when there is no
 * such flow (an unreadable one is deleted), 1 when it belongs to another browser (kept).
 */
export const TAKE_FLOW = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, f = pcall(cjson.decode, v)
if (not ok) or type(f) ~= 'table' then
  redis.call('DEL', KEYS[1])
  return 0
end
if f['browserId'] ~= ARGV[1] then return 1 end
redis.call('DEL', KEYS[1])
return v
`;

/**
 * One hit in a fixed rate-limit window that starts at the first hit. KEYS[1] counter.
 * ARGV: 1 window ms. Returns {count, ms until the window ends}.
 */
export const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

/** Releases a lease only if `token` still owns it, then wakes the waiters. KEYS[1] lock. ARGV: token, channel, name. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`;

/** Extends a lease only for its holder. KEYS[1] lock. ARGV: 1 token, 2 lease ms. Returns 1 or 0. */
export const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

type Arg = string | number;

/** The scripts as client methods (EVALSHA with a transparent EVAL fallback, by ioredis). */
export interface StoreScripts {
  ghPut(key: string, ...args: Arg[]): Promise<number>;
  ghTouch(key: string, ...args: Arg[]): Promise<[string | null, string | null] | null>;
  ghDelete(key: string, ...args: Arg[]): Promise<number>;
  ghIndexAdd(key: string, ...args: Arg[]): Promise<number>;
  ghFlowAdd(key: string, ...args: Arg[]): Promise<string[]>;
  ghFlowAdmit(key: string, ...args: Arg[]): Promise<string[]>;
  ghTakeFlow(key: string, ...args: Arg[]): Promise<string | number>;
  ghHit(key: string, ...args: Arg[]): Promise<[number, number]>;
  ghRelease(key: string, ...args: Arg[]): Promise<number>;
  ghRenew(key: string, ...args: Arg[]): Promise<number>;
}

export type ScriptedClient = (Redis | Cluster) & StoreScripts;

export function defineScripts(client: Redis | Cluster): ScriptedClient {
  const defs: Array<[keyof StoreScripts, string]> = [
    ['ghPut', PUT],
    ['ghTouch', TOUCH],
    ['ghDelete', DELETE],
    ['ghIndexAdd', INDEX_ADD],
    ['ghFlowAdd', FLOW_ADD],
    ['ghFlowAdmit', FLOW_ADMIT],
    ['ghTakeFlow', TAKE_FLOW],
    ['ghHit', HIT],
    ['ghRelease', RELEASE],
    ['ghRenew', RENEW],
  ];
  for (const [name, lua] of defs) client.defineCommand(name, { numberOfKeys: 1, lua });
  return client as ScriptedClient;
}
