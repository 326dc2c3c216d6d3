import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { freePort, login, type Stack, startStack } from '../helpers/stack.js';
import { keysUnder, type RedisServer, startRedisServer, uniquePrefix } from './helpers.js';

/**
 * The numbers docs/deployment.md quotes, measured on a dedicated redis-server so that no other
 * test's traffic is counted: bytes per session (MEMORY USAGE) with default claims and with the
 * dev IdP's huge-groups profile, and Redis commands per authenticated request (INFO commandstats
 * deltas over 1000 requests on one session) with the L1 cache on and off.
 */
const REQUESTS = 1000;
const CONCURRENCY = 10;

function parseCommandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of info.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe('sizing: bytes per session and Redis commands per request', () => {
  let server: RedisServer;
  let redis: Redis;
  let idp: DevIdp;
  const stacks: Stack[] = [];

  before(async () => {
    server = await startRedisServer(await freePort());
    redis = new Redis(server.url, { maxRetriesPerRequest: 0 });
    idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
  });
  after(async () => {
    for (const s of stacks) await s.close();
    await idp?.stop();
    redis?.disconnect();
    await server?.destroy();
  });

  async function stack(prefix: string, cacheTtlMs?: number, clock?: ManualClock): Promise<Stack> {
    const s = await startStack({
      idpInstance: idp,
      ...(clock ? { clock } : {}),
      config: {
        session: {
          store: 'redis',
          redisUrl: server.url,
          redisKeyPrefix: prefix,
          ...(cacheTtlMs === undefined ? {} : { cacheTtlMs }),
        },
        logging: { level: 'warn' },
      } as never,
    });
    stacks.push(s);
    return s;
  }

  async function sessionBytes(prefix: string): Promise<{ record: number; json: number; index: number }> {
    const keys = await keysUnder(redis, prefix);
    const sessions = keys.filter((k) => k.startsWith(`${prefix}s:`));
    assert.equal(sessions.length, 1);
    const record = Number(await redis.call('MEMORY', 'USAGE', sessions[0]!, 'SAMPLES', '0'));
    const json = await redis.hstrlen(sessions[0]!, 'd');
    let index = 0;
    for (const k of keys.filter((k) => k.startsWith(`${prefix}sub:`) || k.startsWith(`${prefix}sid:`))) {
      index += Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
    }
    return { record, json, index };
  }

  it('bytes per session: default claims and huge-groups', async (t) => {
    const results: Record<string, { record: number; json: number; index: number }> = {};
    for (const profile of ['default', 'huge-groups']) {
      idp.setProfiles(profile === 'default' ? [] : [profile]);
      const prefix = uniquePrefix(`size-${profile}`);
      const s = await stack(prefix);
      const hops = await login(s, new TestBrowser());
      assert.equal(hops.at(-1)!.status, 200);
      results[profile] = await sessionBytes(prefix);
      t.diagnostic(
        `${profile}: MEMORY USAGE of the session hash ${results[profile].record} B (record JSON ${results[profile].json} B), ` +
          `sub+sid index entries ${results[profile].index} B`,
      );
    }
    idp.setProfiles([]);
    assert.ok(results['huge-groups']!.record > results.default!.record * 5, 'huge-groups is much larger');
  });

  /**
   * INFO commandstats deltas over REQUESTS requests on one logged-in session (after one warm-up
   * request, so a cache has the record), at concurrency CONCURRENCY.
   */
  async function commandsPerRequest(
    s: Stack,
  ): Promise<{ total: number; stats: Record<string, number>; ms: number }> {
    const b = new TestBrowser();
    const hops = await login(s, b);
    assert.equal(hops.at(-1)!.status, 200);
    assert.equal((await b.request(`${s.url}/api/item`, { kind: 'api' })).status, 200, 'warm-up');
    await redis.config('RESETSTAT');
    const t0 = performance.now();
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          next++;
          statuses.push((await b.request(`${s.url}/api/item`, { kind: 'api' })).status);
        }
      }),
    );
    const ms = performance.now() - t0;
    const stats = parseCommandStats(await redis.info('commandstats'));
    for (const k of Object.keys(stats)) if (/^(info|config)\b/.test(k)) delete stats[k];
    assert.equal(statuses.length, REQUESTS);
    assert.ok(
      statuses.every((x) => x === 200),
      'all authenticated',
    );
    return { total: Object.values(stats).reduce((a, v) => a + v, 0), stats, ms };
  }

  // A 60 s cache lifetime puts every request inside one cache window however loaded the machine
  // is, so each is a hit: what is measured is the cost of a hit, which must be nothing at all.
  it('Redis commands per authenticated request, L1 cache on: none on a hit', async (t) => {
    const { total, stats, ms } = await commandsPerRequest(await stack(uniquePrefix('cmds-l1'), 60_000));
    t.diagnostic(
      `L1 on: ${total} Redis commands for ${REQUESTS} requests in ${Math.round(ms)} ms at concurrency ${CONCURRENCY}: ${JSON.stringify(stats)}`,
    );
    assert.equal(total, 0, `no Redis command on an L1 hit (got ${JSON.stringify(stats)})`);
  });

  it('Redis commands per authenticated request, L1 cache off: one HMGET each', async (t) => {
    const { total, stats, ms } = await commandsPerRequest(await stack(uniquePrefix('cmds-nol1'), 0));
    t.diagnostic(
      `L1 off: ${total} Redis commands for ${REQUESTS} requests (${(total / REQUESTS).toFixed(3)} per request) in ${Math.round(ms)} ms at concurrency ${CONCURRENCY}: ${JSON.stringify(stats)}`,
    );
    const perRequest = total / REQUESTS;
    assert.ok(
      perRequest >= 0.99 && perRequest <= 1.01,
      `one HMGET per request without the cache (got ${perRequest})`,
    );
  });

  it('Redis commands per login, refresh and logout', async (t) => {
    const clock = new ManualClock();
    const s = await stack(uniquePrefix('writes'), undefined, clock);
    const b = new TestBrowser();
    const measure = async (what: string, fn: () => Promise<void>) => {
      await redis.config('RESETSTAT');
      await fn();
      const stats = parseCommandStats(await redis.info('commandstats'));
      for (const k of Object.keys(stats)) if (/^(info|config)\b/.test(k)) delete stats[k];
      // commandstats counts the commands a script runs too, besides the evalsha/eval itself.
      t.diagnostic(`${what}: commandstats delta ${JSON.stringify(stats)}`);
    };
    // Warm-up: ioredis sends EVALSHA and falls back to EVAL the first time a server sees a script.
    assert.equal((await login(s, new TestBrowser())).at(-1)!.status, 200);
    await measure('login (start + callback + first request)', async () => {
      const hops = await login(s, b);
      assert.equal(hops.at(-1)!.status, 200);
    });
    clock.advance(301_000); // past the dev IdP's 300 s access token
    await measure('refresh (one expired request)', async () => {
      assert.equal((await b.request(`${s.url}/api/x`, { kind: 'api' })).status, 200);
    });
    await measure('logout', async () => {
      const r = await b.request(`${s.url}/oauth2/logout`, { headers: { 'sec-fetch-site': 'same-origin' } });
      assert.equal(r.status, 302);
    });
  });
});
