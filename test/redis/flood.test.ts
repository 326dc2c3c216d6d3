import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import type { MemoryStore } from '../../src/store/memoryStore.js';
import { TestBrowser } from '../helpers/browser.js';
import { login, type Stack, startStack } from '../helpers/stack.js';
import { countBy, dropPrefix, keysUnder, requireRedis, uniquePrefix } from './helpers.js';

/**
 * Issue 8 item 5: an unauthenticated flood of sign-in starts cannot exhaust Redis or memory.
 * 5 000 cookie-less `/oauth2/start` requests from one address (real sockets, keep-alive,
 * concurrency 32) against a small total cap (500 pending flows): the store stays under the cap in
 * keys and bytes, a signed-in user is served all along, and someone new still signs in. With the
 * rate limit on, the flooding address gets 429 while a second address (127.0.0.2) signs in.
 */
const FLOOD = 5_000;
const CONCURRENCY = 32;
const CAP = 500;

interface FloodResult {
  statuses: Record<number, number>;
  retryAfter: Set<string>;
}

/** `n` cookie-less navigations to /oauth2/start, `CONCURRENCY` at a time over keep-alive sockets. */
async function flood(base: string, n: number): Promise<FloodResult> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 10_000 });
  const statuses: number[] = [];
  const retryAfter = new Set<string>();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          next++;
          const res = await request(`${base}/oauth2/start?rd=%2F`, {
            dispatcher: agent,
            headers: {
              accept: 'text/html',
              'sec-fetch-mode': 'navigate',
              'sec-fetch-dest': 'document',
            },
          });
          await res.body.dump();
          statuses.push(res.statusCode);
          const ra = res.headers['retry-after'];
          if (typeof ra === 'string') retryAfter.add(ra);
        }
      }),
    );
  } finally {
    await agent.close();
  }
  return { statuses: countBy(statuses), retryAfter };
}

/** Requests `/app` as `b` until `done` settles; every answer must be 200. Returns how many were made. */
async function servedThroughout(s: Stack, b: TestBrowser, done: Promise<unknown>): Promise<number> {
  let over = false;
  void done.finally(() => {
    over = true;
  });
  let n = 0;
  while (!over || n === 0) {
    const r = await b.request(`${s.url}/app`, { kind: 'api' });
    assert.equal(r.status, 200, `the signed-in user is served during the flood (${r.body.slice(0, 200)})`);
    n++;
  }
  return n;
}

async function bytesUnder(redis: Redis, prefix: string): Promise<{ keys: string[]; bytes: number }> {
  const keys = await keysUnder(redis, prefix);
  let bytes = 0;
  for (const k of keys) bytes += Number((await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
  return { keys, bytes };
}

describe('an unauthenticated flood of sign-in starts', () => {
  let idp: DevIdp;
  let redis: Redis;
  const prefixes: string[] = [];
  const stacks: Stack[] = [];

  before(async () => {
    redis = await requireRedis();
    idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
  });
  after(async () => {
    for (const s of stacks) await s.close();
    for (const p of prefixes) await dropPrefix(redis, p);
    redis?.disconnect();
    await idp?.stop();
  });

  async function stack(
    login: Record<string, unknown>,
    session: Record<string, unknown> = {},
  ): Promise<Stack> {
    const s = await startStack({
      idpInstance: idp,
      config: { login, session, logging: { level: 'warn' } } as never,
    });
    stacks.push(s);
    return s;
  }

  async function redisStack(login: Record<string, unknown>): Promise<{ s: Stack; prefix: string }> {
    const prefix = uniquePrefix('flood');
    prefixes.push(prefix);
    return { s: await stack(login, { store: 'redis', redisKeyPrefix: prefix }), prefix };
  }

  it(`Redis: ${FLOOD} starts from one address keep the keys and bytes under maxPendingFlowsTotal (${CAP})`, async (t) => {
    const { s, prefix } = await redisStack({ maxPendingFlowsTotal: CAP, rateLimitPerMinute: 0 });
    const user = new TestBrowser();
    assert.equal((await login(s, user, { path: '/app' })).at(-1)!.status, 200);
    const before = await bytesUnder(redis, prefix);

    const flooding = flood(s.url, FLOOD);
    const served = await servedThroughout(s, user, flooding);
    const { statuses } = await flooding;
    assert.deepEqual(statuses, { 302: FLOOD }, 'a full store evicts the oldest flows, it never refuses');
    assert.ok(served > 0);

    const { keys, bytes } = await bytesUnder(redis, prefix);
    const flowKeys = keys.filter((k) => k.startsWith(`${prefix}flow:`));
    const listKeys = keys.filter((k) => k.startsWith(`${prefix}flows:`));
    assert.ok(flowKeys.length <= CAP, `flow keys ${flowKeys.length} ≤ ${CAP}`);
    assert.ok(
      listKeys.length <= CAP,
      `browser lists ${listKeys.length} ≤ ${CAP} (a new browser id per request)`,
    );
    assert.ok(
      keys.length <= before.keys.length + 2 * CAP + 1,
      `${keys.length} keys under the prefix (before: ${before.keys.length})`,
    );
    assert.ok(
      (await redis.zcard(`${prefix}pending:{flows}`)) <= CAP,
      'the pending-flow index holds at most the cap',
    );
    // A pending flow costs well under 1.5 KB in all (flow JSON, browser list, index member).
    const grown = bytes - before.bytes;
    t.diagnostic(
      `after ${FLOOD} starts: ${keys.length} keys (${flowKeys.length} flows, ${listKeys.length} browser lists), +${grown} bytes; user served ${served} times`,
    );
    assert.ok(grown <= CAP * 1536, `Redis memory under the prefix grew by ${grown} bytes (cap ${CAP})`);
    for (const k of keys) assert.ok((await redis.pttl(k)) > 0, `${k} expires`);

    // Someone new signs in: their flow is the newest, so it is not the one evicted.
    const newcomer = new TestBrowser();
    const hops = await login(s, newcomer, { path: '/hello' });
    assert.equal(hops.at(-1)!.status, 200, hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → '));
    assert.equal((await user.request(`${s.url}/app`, { kind: 'api' })).status, 200);
  });

  it(`memory store: ${FLOOD} starts keep the pending flows and browser lists under the cap (${CAP})`, async () => {
    const s = await stack({ maxPendingFlowsTotal: CAP, rateLimitPerMinute: 0 });
    const user = new TestBrowser();
    assert.equal((await login(s, user, { path: '/app' })).at(-1)!.status, 200);
    const flooding = flood(s.url, FLOOD);
    await servedThroughout(s, user, flooding);
    assert.deepEqual((await flooding).statuses, { 302: FLOOD });
    const pending = (s.gw.store as MemoryStore).pendingFlows;
    assert.ok(pending.flows <= CAP, `pending flows ${pending.flows} ≤ ${CAP}`);
    assert.ok(pending.browsers <= CAP, `browser lists ${pending.browsers} ≤ ${CAP}`);
    const hops = await login(s, new TestBrowser(), { path: '/hello' });
    assert.equal(hops.at(-1)!.status, 200, 'someone new still signs in');
  });

  it('Redis, rate limit on: the flooding address gets 429, a second address signs in meanwhile', async () => {
    const limit = 100;
    const { s, prefix } = await redisStack({ maxPendingFlowsTotal: CAP, rateLimitPerMinute: limit });
    // Signed in from the flooding address itself: authenticated requests are never rate-limited.
    const user = new TestBrowser();
    assert.equal((await login(s, user, { path: '/app' })).at(-1)!.status, 200);

    const flooding = flood(s.url, FLOOD);
    await servedThroughout(s, user, flooding);
    const { statuses, retryAfter } = await flooding;
    assert.equal((statuses[302] ?? 0) + (statuses[429] ?? 0), FLOOD, JSON.stringify(statuses));
    assert.ok(
      (statuses[302] ?? 0) <= limit,
      `at most ${limit} starts got through: ${JSON.stringify(statuses)}`,
    );
    assert.ok((statuses[429] ?? 0) >= FLOOD - limit);
    for (const ra of retryAfter) assert.ok(Number(ra) >= 1 && Number(ra) <= 60, `Retry-After ${ra}`);

    const keys = await keysUnder(redis, prefix);
    assert.ok(keys.filter((k) => k.startsWith(`${prefix}flow:`)).length <= limit);
    assert.equal(keys.filter((k) => k.startsWith(`${prefix}rate:`)).length, 1, 'one counter for the address');

    // Still limited: a new browser on 127.0.0.1 gets the 429 page instead of the IdP.
    const sameAddress = await new TestBrowser().request(`${s.url}/app`);
    assert.equal(sameAddress.status, 429);
    assert.match(sameAddress.body, /Too many sign-in attempts/);
    // Another client address has a budget of its own, counted in the same store.
    const other = new Agent({ localAddress: '127.0.0.2' });
    try {
      const neighbour = new TestBrowser(other);
      const hops = await login(s, neighbour, { path: '/hello' });
      assert.equal(hops.at(-1)!.status, 200, hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → '));
      assert.equal(
        (await neighbour.request(`${s.url}/oauth2/userinfo`, { kind: 'api' })).json().user,
        'alice',
      );
    } finally {
      await other.close();
    }
    assert.equal((await user.request(`${s.url}/app`, { kind: 'api' })).status, 200);
  });
});
