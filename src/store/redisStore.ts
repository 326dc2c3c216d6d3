import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Cluster, Redis } from 'ioredis';
import type { SessionRecord } from '../session/record.js';
import type {
  GetOptions,
  LoginFlow,
  SessionCensus,
  SessionStore,
  StoreHealth,
  TakenFlow,
} from '../session/store.js';
import { describeCause, GatehouseError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { settledWithin } from '../util/settledWithin.js';
import { CachedStore } from './cachedStore.js';
import { createClients, type RedisConnectionOptions } from './redis/connection.js';
import { RedisKeys } from './redis/keys.js';
import { RedisRefreshLock } from './redis/lock.js';
import { defineScripts, type ScriptedClient } from './redis/scripts.js';
import { RedisSubscription } from './redis/subscription.js';

const UNAVAILABLE = 'The session store is unavailable. Please retry shortly.';

/**
 * `census` (the gatehouse_sessions gauge) reads at most this many session records, in SCAN
 * batches of CENSUS_BATCH with at most CENSUS_MAX_SCANS SCAN calls per node, and reuses its
 * answer for CENSUS_REUSE_MS: whatever the number of sessions or scrapes, a bounded cost.
 */
const CENSUS_MAX_KEYS = 1000;
const CENSUS_BATCH = 250;
const CENSUS_MAX_SCANS = 40;
const CENSUS_REUSE_MS = 60_000;
/** How the record JSON (as SessionService writes it) says it has one; matched, never parsed. */
const HAS_REFRESH_TOKEN = '"hasRefreshToken":true';

/** Everything the Redis store is opened with; the caller maps its configuration (`session.*`) to it. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Every key and channel starts with it (`session.redisKeyPrefix`). */
  keyPrefix: string;
  /** Lifetime of the in-process L1 cache in front of the store (`CachedStore`); 0: no cache. */
  cacheTtlMs: number;
  /**
   * Pending login flows kept at most, across every browser and replica
   * (`login.maxPendingFlowsTotal`; default 50 000).
   */
  maxPendingFlows?: number;
}

/** `login.maxPendingFlowsTotal`'s default, for stores opened without a whole config. */
const DEFAULT_MAX_PENDING_FLOWS = 50_000;

/** The Redis store as the gateway runs it: behind the L1 cache unless `cacheTtlMs` is 0. */
export async function openRedisStore(
  opts: RedisStoreOptions,
  logger: Logger,
): Promise<RedisStore | CachedStore<RedisStore>> {
  const store = await RedisStore.open(opts, logger);
  return opts.cacheTtlMs > 0
    ? new CachedStore(store, store.invalidations, { ttlMs: opts.cacheTtlMs })
    : store;
}

/** What the constructor needs besides the connections. */
interface StoreSettings {
  prefix: string;
  /** How long `open` waits for the first connection before returning a not-ready store. */
  connectWaitMs: number;
  maxPendingFlows: number;
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'ETIMEDOUT',
]);

/** Nobody there (or wrong credentials): no point in holding up startup for it. */
function unreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; lastNodeError?: unknown } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && NETWORK_ERRORS.has(e.code)) return true;
  if (typeof e.message === 'string' && /WRONGPASS|NOAUTH|NOPERM|connect ETIMEDOUT/.test(e.message))
    return true;
  return e.lastNodeError !== undefined && unreachable(e.lastNodeError); // ioredis ClusterAllFailedError
}

/** The pending-flow index names the browser too, so evicting a flow also trims that browser's list. */
function pendingMember(state: string, browserId: string): string {
  return `${state} ${browserId}`;
}

function splitMember(member: string): [string, string | undefined] {
  const i = member.indexOf(' ');
  return i === -1 ? [member, undefined] : [member.slice(0, i), member.slice(i + 1)];
}

/**
 * The scale-out session store (DESIGN §7): records in Redis, pub/sub invalidation for the L1
 * cache in front of it (`CachedStore`, see `openRedisStore`), a lease lock for cross-replica refresh.
 *
 * - Records: one hash per session, written by a single compare-and-set Lua script that sets
 *   the TTL in the same step; `touch` only moves `l` (lastSeenAt) and the TTL.
 * - Invalidation: every overwrite, delete and touch, on any replica, publishes the key in the
 *   same script; `invalidations` (the subscriber) delivers it to every replica, and this
 *   replica's own writes at once.
 * - Failures: no offline queue and a command timeout, so a request fails in milliseconds with
 *   `store_unavailable` (503) while Redis is unreachable; ioredis reconnects with capped backoff.
 */
export class RedisStore implements SessionStore {
  readonly kind = 'redis';
  readonly lock: RedisRefreshLock;
  /**
   * 'invalidate' (a key, or undefined for "any": see `InvalidationBus.listen`), and for tests and
   * metrics 'state' ('ready' | 'down' for the command connection, 'subscribed' | 'unsubscribed'
   * for the subscriber).
   */
  readonly events = new EventEmitter();
  readonly keys: RedisKeys;
  /** The subscriber: every replica's invalidations, for the L1 cache in front of this store. */
  readonly invalidations: RedisSubscription;

  private closed = false;
  private readonly lastError = new Map<string, number>();

  /** Builds the clients and waits (bounded) for the first connection. */
  static async open(opts: RedisStoreOptions, logger: Logger): Promise<RedisStore> {
    // Named per process so `CLIENT LIST` shows which replica holds which connection.
    const connectionName = `gatehouse-${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const { client, subscriber: sub, describe } = createClients({ ...opts, connectionName });
    const store = new RedisStore(
      client,
      sub,
      {
        prefix: opts.keyPrefix,
        connectWaitMs: Math.max(2000, opts.commandTimeoutMs * 2),
        maxPendingFlows: Math.max(1, opts.maxPendingFlows ?? DEFAULT_MAX_PENDING_FLOWS),
      },
      logger,
      describe,
      connectionName,
    );
    await store.started();
    return store;
  }

  private readonly client: ScriptedClient;
  private readonly firstContact: Promise<void>;

  constructor(
    client: Redis | Cluster,
    private readonly sub: Redis | Cluster,
    private readonly opts: StoreSettings,
    private readonly logger: Logger,
    private readonly describe: string,
    /** CLIENT SETNAME of the command connection; the subscriber's is this plus `-sub`. */
    readonly connectionName = 'gatehouse',
  ) {
    this.client = defineScripts(client);
    this.keys = new RedisKeys(opts.prefix);
    this.events.setMaxListeners(0);
    this.invalidations = new RedisSubscription(sub, {
      keys: this.keys,
      logger,
      describe,
      onReleased: (name) => this.lock.onReleased(name),
      onState: (state) => this.events.emit('state', state),
      onError: (err) => this.logError('subscriber', err),
    });
    this.invalidations.listen((key) => this.events.emit('invalidate', key));
    this.lock = new RedisRefreshLock({
      client: this.client,
      keys: this.keys,
      subscriberLive: () => this.invalidations.live,
      call: (fn) => this.call(fn),
    });

    // First contact: both connections ready, or Redis plainly unreachable (do not hold up startup).
    let contact: () => void = () => undefined;
    this.firstContact = new Promise<void>((r) => {
      contact = r;
    });
    const onState = () => {
      if (!this.health().ok) return;
      this.events.off('state', onState);
      contact();
    };
    this.events.on('state', onState);
    // Never crash on a Redis error: every client gets an 'error' listener; log once per kind per 10 s.
    for (const [c, role] of [
      [client, 'commands'],
      [sub, 'subscriber'],
    ] as const) {
      c.on('error', (err: unknown) => {
        this.logError(role, err);
        if (unreachable(err)) contact();
      });
    }
    let up = false;
    client.on('ready', () => {
      up = true;
      this.logger.info({ store: this.describe }, 'session store (redis) connected');
      this.events.emit('state', 'ready');
    });
    client.on('close', () => {
      if (!up || this.closed) return;
      up = false;
      this.logger.error(
        { store: this.describe },
        'session store (redis) connection lost; answering 503 and reconnecting',
      );
      this.events.emit('state', 'down');
    });
  }

  /** Resolves once the first connection succeeded or failed (bounded); a failed start is logged, not fatal. */
  private async started(): Promise<void> {
    await settledWithin(this.firstContact, this.opts.connectWaitMs);
    const h = this.health();
    if (!h.ok) {
      this.logger.error(
        { store: this.describe, reason: h.reason },
        'session store (redis) is not ready; requests that need a session answer 503 until it is (retrying in the background)',
      );
    }
  }

  private logError(role: string, err: unknown): void {
    const text = describeCause(err);
    const key = `${role}:${text}`;
    const now = performance.now();
    const last = this.lastError.get(key);
    if (last !== undefined && now - last < 10_000) return;
    if (this.lastError.size > 100) this.lastError.clear();
    this.lastError.set(key, now);
    this.logger.warn({ store: this.describe, role, err: text }, 'session store (redis) error');
  }

  /** Runs a Redis call; any failure (unreachable, timeout, server error) becomes a 503 `store_unavailable`. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new GatehouseError('store_unavailable', 503, UNAVAILABLE, {
        cause: err,
        message: `session store (redis): ${describeCause(err)}`,
      });
    }
  }

  /** One Redis round trip; `fresh` changes nothing here: there is no cache in this class. */
  async get(key: string, _opts?: GetOptions): Promise<SessionRecord | undefined> {
    return this.parse(await this.read(key));
  }

  /** The one Redis round trip of a read. */
  private read(key: string): Promise<Array<string | null>> {
    return this.call(() => this.client.hmget(this.keys.session(key), 'd', 'l'));
  }

  /**
   * The record as the writer serialised it (JSON.parse keeps key order, so the session layer's MAC
   * check sees the writer's bytes). This store does not judge records: a `d` that is not a JSON
   * object comes back as an empty object, which the session layer refuses as malformed (counted and
   * logged there, without the content). Only `lastSeenAt`, outside the MAC, is merged with `l`.
   */
  private parse(raw: Array<string | null>): SessionRecord | undefined {
    const [d, l] = raw;
    if (!d) return undefined;
    let rec: SessionRecord;
    try {
      rec = JSON.parse(d) as SessionRecord;
    } catch {
      return {} as SessionRecord;
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return {} as SessionRecord;
    // A touch moves only `l`: the record's own lastSeenAt may be older.
    const touched = l ? Number(l) : 0;
    if (touched > rec.lastSeenAt) rec.lastSeenAt = touched;
    return rec;
  }

  async put(
    key: string,
    rec: SessionRecord,
    ttlMs: number,
    expectedVersion: number | null,
  ): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    // Index first: a session that exists is always findable by back-channel logout.
    await this.index(key, rec.sub, rec.sid, ttl);
    const ok = await this.call(() =>
      this.client.ghPut(
        this.keys.session(key),
        expectedVersion === null ? '' : String(expectedVersion),
        String(rec.version),
        JSON.stringify(rec),
        ttl,
        String(rec.lastSeenAt),
        rec.sub,
        rec.sid ?? '',
        this.keys.invalidateChannel,
        key,
      ),
    );
    // Our own message will come back too; announcing it now keeps this replica exact meanwhile.
    if (ok === 1) this.invalidations.announce(key);
    return ok === 1;
  }

  private async index(key: string, sub: string, sid: string | undefined, ttl: number): Promise<void> {
    const work = [this.call(() => this.client.ghIndexAdd(this.keys.bySub(sub), key, ttl))];
    if (sid) work.push(this.call(() => this.client.ghIndexAdd(this.keys.bySid(sid), key, ttl)));
    await Promise.all(work);
  }

  async touch(key: string, lastSeenAt: number, ttlMs: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const res = await this.call(() =>
      this.client.ghTouch(this.keys.session(key), String(lastSeenAt), ttl, this.keys.invalidateChannel, key),
    );
    this.invalidations.announce(key);
    if (!res) return;
    const [sub, sid] = res;
    if (sub) await this.index(key, sub, sid || undefined, ttl);
  }

  async delete(key: string): Promise<void> {
    await this.call(() => this.client.ghDelete(this.keys.session(key), this.keys.invalidateChannel, key));
    this.invalidations.announce(key);
  }

  /**
   * Back-channel logout. With a `sid`: the sessions of that IdP session, plus (when `sub` is
   * given too) the subject's sessions that have no sid. With only a `sub`: all its sessions.
   * Candidates come from the index sets; each delete publishes, so every replica's L1 drops them.
   */
  async deleteMatching(match: { sub?: string; sid?: string }): Promise<number> {
    const { sub, sid } = match;
    if (!sub && !sid) return 0;
    const doomed = new Set<string>();
    const cleanup: Array<[string, string[]]> = [];
    if (sid) {
      const idx = this.keys.bySid(sid);
      const members = await this.call(() => this.client.zrange(idx, 0, -1));
      for (const k of members) doomed.add(k);
      cleanup.push([idx, members]);
    }
    if (sub) {
      const idx = this.keys.bySub(sub);
      const members = await this.call(() => this.client.zrange(idx, 0, -1));
      if (!sid) {
        for (const k of members) doomed.add(k);
        cleanup.push([idx, members]);
      } else {
        const sids = await Promise.all(
          members.map((k) => this.call(() => this.client.hget(this.keys.session(k), 'i'))),
        );
        const gone: string[] = [];
        members.forEach((k, i) => {
          const s = sids[i];
          if (s === '') doomed.add(k); // a session without sid
          if (s === null || s === '') gone.push(k);
        });
        cleanup.push([idx, gone]);
      }
    }
    const counts = await Promise.all(
      [...doomed].map((k) =>
        this.call(() => this.client.ghDelete(this.keys.session(k), this.keys.invalidateChannel, k)),
      ),
    );
    for (const k of doomed) this.invalidations.announce(k);
    // ZREM (not DEL): a session indexed concurrently by a login stays findable.
    await Promise.all(
      cleanup.filter(([, m]) => m.length).map(([idx, m]) => this.call(() => this.client.zrem(idx, ...m))),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * A flow is three writes, sent together: its key, its state in the browser's list (bounded per
   * browser) and its member in the one index of every pending flow (bounded in all, the oldest
   * popped). What either bound evicts is then removed everywhere, so neither the flow keys nor the
   * browser lists can outgrow `maxPendingFlows` — a flood of cookie-less starts (a new browser id
   * each) evicts the oldest pending flows instead of filling Redis.
   */
  async putFlow(state: string, flow: LoginFlow, ttlMs: number, maxPerBrowser: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const max = this.opts.maxPendingFlows;
    const [, overTotal, overBrowser] = await Promise.all([
      this.call(() => this.client.set(this.keys.flow(state), JSON.stringify(flow), 'PX', ttl)),
      this.call(() =>
        this.client.ghFlowAdmit(this.keys.pendingFlows(), pendingMember(state, flow.browserId), ttl, max),
      ),
      this.call(() =>
        this.client.ghFlowAdd(this.keys.browserFlows(flow.browserId), state, ttl, Math.max(1, maxPerBrowser)),
      ),
    ]);
    const work: Array<Promise<unknown>> = [];
    for (const member of overTotal) {
      const [s, browserId] = splitMember(member);
      work.push(this.call(() => this.client.del(this.keys.flow(s))));
      if (browserId) work.push(this.call(() => this.client.lrem(this.keys.browserFlows(browserId), 0, s)));
    }
    for (const s of overBrowser) {
      work.push(this.call(() => this.client.del(this.keys.flow(s))));
      work.push(
        this.call(() => this.client.zrem(this.keys.pendingFlows(), pendingMember(s, flow.browserId))),
      );
    }
    if (work.length) await Promise.all(work);
  }

  async takeFlow(state: string, browserId: string): Promise<TakenFlow> {
    const raw = await this.call(() => this.client.ghTakeFlow(this.keys.flow(state), browserId));
    if (raw === 1) return { ok: false, reason: 'other_browser' };
    if (typeof raw !== 'string') return { ok: false, reason: 'unknown' };
    let flow: LoginFlow;
    try {
      flow = JSON.parse(raw) as LoginFlow;
    } catch {
      return { ok: false, reason: 'unknown' };
    }
    // Housekeeping: a completed flow no longer counts against the bounds (best effort; both expire).
    await Promise.all([
      this.client.zrem(this.keys.pendingFlows(), pendingMember(state, browserId)),
      this.client.lrem(this.keys.browserFlows(browserId), 0, state),
    ]).catch((err: unknown) => this.logError('commands', err));
    return { ok: true, flow };
  }

  async countHit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const window = Math.max(1, Math.ceil(windowMs));
    const [count, ttl] = await this.call(() => this.client.ghHit(this.keys.rate(key), window));
    return { count: Number(count), resetInMs: Math.max(0, Number(ttl)) };
  }

  readonly shared = {
    get: async (name: string): Promise<string | undefined> =>
      (await this.call(() => this.client.get(this.keys.shared(name)))) ?? undefined,
    put: async (name: string, value: string): Promise<void> => {
      await this.call(() => this.client.set(this.keys.shared(name), value));
    },
  };

  async markOnce(key: string, ttlMs: number): Promise<boolean> {
    const ok = await this.call(() =>
      this.client.set(this.keys.once(key), '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
    );
    return ok === 'OK';
  }

  private lastCensus: { at: number; census: Promise<SessionCensus | undefined> } | undefined;

  /**
   * A bounded SCAN of the session keys on every node (every master of a Cluster): up to
   * CENSUS_MAX_KEYS records of *all* replicas' sessions, each checked for a refresh token by a
   * substring match of its JSON (nothing parsed, nothing opened). Fewer sessions than that: the
   * exact counts (`scope: 'all'`); more: a sample of that many in SCAN order (`scope: 'sample'`:
   * read the ratio, not the totals). Reused for a minute, and shared by concurrent scrapes.
   */
  census(): Promise<SessionCensus | undefined> {
    const now = performance.now();
    if (!this.lastCensus || now - this.lastCensus.at >= CENSUS_REUSE_MS) {
      this.lastCensus = { at: now, census: this.countSessions().catch(() => undefined) };
    }
    return this.lastCensus.census;
  }

  private async countSessions(): Promise<SessionCensus | undefined> {
    if (!this.health().ok) return undefined;
    const c = this.client;
    const nodes: Redis[] =
      'nodes' in c && typeof c.nodes === 'function' && c.isCluster ? c.nodes('master') : [c as Redis];
    const match = `${this.keys.prefix.replace(/[*?[\]\\]/g, '\\$&')}s:{*`;
    const census: SessionCensus = { withRefreshToken: 0, withoutRefreshToken: 0, scope: 'all' };
    let read = 0;
    let visited = 0;
    for (const node of nodes) {
      visited++;
      let cursor = '0';
      for (let scans = 0; scans < CENSUS_MAX_SCANS; scans++) {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', CENSUS_BATCH);
        const take = keys.slice(0, CENSUS_MAX_KEYS - read);
        if (take.length < keys.length) census.scope = 'sample';
        if (take.length) {
          const records = await Promise.all(take.map((k) => node.hget(k, 'd')));
          for (const d of records) {
            if (d === null) continue; // gone since the SCAN
            if (d.includes(HAS_REFRESH_TOKEN)) census.withRefreshToken++;
            else census.withoutRefreshToken++;
          }
          read += take.length;
        }
        cursor = next;
        if (read >= CENSUS_MAX_KEYS || cursor === '0') break;
      }
      if (cursor !== '0') census.scope = 'sample';
      if (read >= CENSUS_MAX_KEYS) break;
    }
    if (visited < nodes.length) census.scope = 'sample';
    return census;
  }

  health(): StoreHealth {
    if (this.closed) return { ok: false, reason: 'session store (redis) closed' };
    if (this.client.status !== 'ready')
      return { ok: false, reason: `session store (redis) ${this.client.status}` };
    if (!this.invalidations.live)
      return { ok: false, reason: 'session store (redis) invalidation channel not subscribed' };
    return { ok: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.invalidations.close();
    this.lock.close();
    for (const c of [this.sub, this.client]) {
      try {
        if (c.status === 'ready') await c.quit();
        else c.disconnect();
      } catch {
        c.disconnect();
      }
    }
  }
}
