import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import type { TokenSet } from '../../src/oidc/tokenSet.js';
import { SessionService } from '../../src/session/service.js';
import type { SessionStore } from '../../src/session/store.js';
import { systemClock } from '../../src/util/clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import {
  countBy,
  dropPrefix,
  dumpPrefix,
  type GatewayProcess,
  loginAcross,
  openStore,
  REDIS_URL,
  requireRedis,
  spawnReplicas,
  TEST_SECRET,
  uniquePrefix,
} from './helpers.js';

/**
 * Three gateway processes sharing one Redis and one dev IdP (short-lived access tokens, refresh
 * token rotation with reuse detection: a second grant with a spent token would revoke the
 * session, so "exactly one grant" and "zero invalid_grant" are observable).
 */
const ACCESS_TTL_S = 3;
/** Short lease for the killed-leader test; the provider timeout stays below it (the config check demands it). */
const LEASE_S = 3;
const PROVIDER_TIMEOUT_S = 2;
/** Delay of each token response under token-endpoint-slow: slow, but within the provider timeout. */
const TOKEN_DELAY_MS = 1000;

/** Resolves when the in-process dev IdP starts handling a request to `path` (an event, no polling). */
function idpRequestStarted(path: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (msg: unknown) => {
      const req = (msg as { request: IncomingMessage }).request;
      if (req.url?.startsWith(path)) {
        unsubscribe('http.server.request.start', on);
        resolve();
      }
    };
    subscribe('http.server.request.start', on);
  });
}

type Echo = { headers: Record<string, string> };

describe('three replicas, one Redis', () => {
  const prefix = uniquePrefix('replicas');
  let redis: Redis;
  let idp: DevIdp;
  let upstream: EchoUpstream;
  let ports: number[];
  let replicas: GatewayProcess[] = [];
  let store: SessionStore;
  let sessions: SessionService;
  const browser = new TestBrowser();
  let loggedInAt = 0;
  const tokenHistory: TokenSet[] = [];

  const urls = () => replicas.map((r) => r.url);
  const spawnAll = async () => {
    replicas = await spawnReplicas({
      name: 'replica',
      ports,
      issuer: idp.issuer,
      upstream: upstream.url,
      redisUrl: REDIS_URL,
      prefix,
      config: { provider: { timeoutSeconds: PROVIDER_TIMEOUT_S }, refresh: { lockLeaseSeconds: LEASE_S } },
    });
  };
  /** Log entries with message `msg` that replicas wrote after `mark` (from `logMark()`). */
  const logMark = () => replicas.map((r) => r.logs.length);
  const logsSince = (mark: number[], msg: string, which = replicas) =>
    which.flatMap((r) => r.logs.slice(mark[replicas.indexOf(r)] ?? 0).filter((e) => e.msg === msg));
  const api = (i: number, path = '/api/me') => browser.request(`${urls()[i]}${path}`, { kind: 'api' });

  /** The tokens of the browser's session, read in-process the way a replica does (to scan Redis for them). */
  const currentTokens = async (): Promise<TokenSet> => {
    const cookie = browser.cookie(urls()[0]!, 'gatehouse');
    const key = sessions.codec.open(cookie);
    assert.ok(key, 'session cookie present and valid');
    const rec = await sessions.store.get(key, { fresh: true }); // verified, as a replica reads it
    assert.ok(rec, 'record in Redis');
    return sessions.tokens(rec);
  };

  const login = async () => {
    await loginAcross(browser, urls());
    loggedInAt = performance.now();
  };

  /** Requests replica `i` until it answers `status` (each a full round trip, no sleeps) or `withinMs` passes. */
  const untilStatus = async (i: number, status: number, withinMs: number) => {
    const t0 = performance.now();
    let last = 0;
    while (performance.now() - t0 < withinMs) {
      last = (await api(i)).status;
      if (last === status) return performance.now() - t0;
    }
    assert.fail(`replica ${i + 1} still answered ${last} after ${withinMs} ms`);
  };

  before(async () => {
    redis = await requireRedis();
    ports = [await freePort(), await freePort(), await freePort()];
    idp = await startDevIdp({
      port: 0,
      quiet: true,
      autoLogin: 'alice',
      profiles: ['short-expiry'],
      accessTokenTtl: ACCESS_TTL_S,
      tokenDelayMs: TOKEN_DELAY_MS,
      // Back-channel logout tokens go to replica 3 only.
      backchannelLogoutUri: `http://127.0.0.1:${ports[2]}/oauth2/backchannel-logout`,
    });
    upstream = await startEchoUpstream();
    store = await openStore(prefix);
    sessions = new SessionService(
      store,
      {
        secrets: [TEST_SECRET],
        maxAgeMs: 86_400_000,
        idleTimeoutMs: 0,
        claims: DEFAULT_CLAIM_MAPPING,
      },
      systemClock,
    );
    await spawnAll();
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.kill('SIGKILL')));
    await store?.close();
    await upstream?.close();
    await idp?.stop();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('a session made through replica 1 (callback on replica 2) works on all three', async () => {
    await login();
    for (let i = 0; i < 3; i++) {
      const r = await api(i);
      assert.equal(r.status, 200, `replica ${i + 1}`);
      assert.equal(r.json<Echo>().headers['x-forwarded-user'], 'alice');
    }
    tokenHistory.push(await currentTokens());
  });

  it('after expiry, 300 concurrent requests over the three replicas → exactly one refresh grant, all 200', async (t) => {
    // The access token was issued at login; wait for it to expire (one timer: clocks are not shared across processes).
    const wait = ACCESS_TTL_S * 1000 + 250 - (performance.now() - loggedInAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    idp.reset();
    const mark = logMark();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        browser.request(`${urls()[i % 3]}/herd/${i}`, { kind: i % 2 ? 'api' : 'navigate' }),
      ),
    );
    const ms = Math.round(performance.now() - t0);
    const statuses = results.map((r) => r.status);
    const counts = countBy(statuses);
    t.diagnostic(`300 requests over 3 replicas at expiry: ${JSON.stringify(counts)} in ${ms} ms`);
    assert.deepEqual(counts, { 200: 300 }, `all 200 (herd took ${ms} ms)`);
    const stats = idp.stats();
    assert.equal(stats.grants.refresh_token, 1, 'exactly one refresh grant across the three replicas');
    assert.equal(stats.errors.invalid_grant ?? 0, 0, 'no invalid_grant');
    const refreshedLogs = logsSince(mark, 'OIDC token renewed');
    assert.equal(refreshedLogs.length, 1, 'one replica renewed');
    const after = await currentTokens();
    assert.notEqual(after.refreshToken, tokenHistory[0]!.refreshToken, 'the refresh token was rotated');
    tokenHistory.push(after);
    for (let i = 0; i < 3; i++)
      assert.equal((await api(i)).status, 200, `replica ${i + 1} after the refresh`);
  });

  it('no access, refresh or ID token (nor the cookie) can be found anywhere in Redis', async () => {
    const dump = await dumpPrefix(redis, prefix);
    assert.ok(
      dump.some((d) => d.type === 'hash'),
      'the session is there',
    );
    const haystack = dump.map((d) => d.text).join('\n');
    const cookie = browser.cookie(urls()[0]!, 'gatehouse')!;
    const needles: Array<[string, string]> = [
      ['session cookie', cookie],
      ['session id', cookie.split('.')[0]!],
    ];
    for (const [i, t] of tokenHistory.entries()) {
      assert.ok(t.accessToken && t.refreshToken && t.idToken, 'all three tokens exist');
      needles.push(
        [`access token #${i}`, t.accessToken],
        [`refresh token #${i}`, t.refreshToken!],
        [`ID token #${i}`, t.idToken!],
      );
      // JWT signatures are unique: even a partial copy would be found.
      for (const [name, jwt] of [
        ['access', t.accessToken],
        ['id', t.idToken!],
      ] as const) {
        const sig = jwt.split('.')[2];
        if (sig) needles.push([`${name} token #${i} signature`, sig]);
      }
    }
    for (const [what, needle] of needles) {
      assert.ok(needle.length >= 16, `${what} is a real value`);
      assert.equal(haystack.includes(needle), false, `${what} found in Redis`);
    }
  });

  it('logout on replica 2 → 401 on replicas 1 and 3 within 1 s', async (t) => {
    // Warm every replica's L1 cache first, so the test would fail without invalidation.
    for (let i = 0; i < 3; i++) assert.equal((await api(i)).status, 200);
    const out = await browser.request(`${urls()[1]}/oauth2/logout`, { method: 'POST' });
    assert.equal(out.status, 303);
    const cookie = browser.cookies(new URL(urls()[1]!).host);
    assert.equal(cookie.get('gatehouse'), undefined, 'replica 2 cleared the cookie');
    // The other replicas still get the old cookie (a stolen copy, or another tab).
    const ms1 = await untilStatus(0, 401, 1000);
    const ms3 = await untilStatus(2, 401, 1000);
    assert.ok(ms1 < 1000 && ms3 < 1000);
    t.diagnostic(`401 on replica 1 after ${ms1.toFixed(1)} ms, on replica 3 after ${ms3.toFixed(1)} ms`);
  });

  it('back-channel logout from the IdP (delivered to replica 3) ends the session on every replica', async (t) => {
    browser.jar.clear();
    await login();
    for (let i = 0; i < 3; i++) assert.equal((await api(i)).status, 200, `warm replica ${i + 1}`);
    const res = await idp.backchannelLogout({ sub: 'usr_alice' });
    assert.deepEqual(res, { delivered: true, status: 200 });
    const ms: string[] = [];
    for (let i = 0; i < 3; i++) ms.push((await untilStatus(i, 401, 1000)).toFixed(1));
    t.diagnostic(`401 on replicas 1–3 after ${ms.join(' / ')} ms`);
    assert.ok(replicas[2]!.logs.some((e) => e.msg === 'back-channel logout' && e.ended === 1));
  });

  it('all replicas restarted → the session survives', async () => {
    browser.jar.clear();
    await login();
    assert.equal((await api(2)).status, 200);
    await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
    assert.ok(replicas.every((r) => !r.alive()));
    await spawnAll();
    for (let i = 0; i < 3; i++) {
      const r = await api(i);
      assert.equal(r.status, 200, `replica ${i + 1} after restart`);
      assert.equal(r.json<Echo>().headers['x-forwarded-user'], 'alice');
    }
  });

  it('one replica SIGKILLed while it holds the lock during a slow refresh → the others take over after the lease, one grant, still logged in', async () => {
    const b = browser;
    const urls = replicas.map((r) => r.url);
    b.jar.clear();
    await login();
    for (const u of urls) assert.equal((await b.request(`${u}/warm`, { kind: 'api' })).status, 200);

    await new Promise((r) => setTimeout(r, ACCESS_TTL_S * 1000 + 250 - (performance.now() - loggedInAt)));
    idp.setProfiles(['short-expiry', 'token-endpoint-slow']);
    idp.reset();
    const mark = logMark();

    // Replica 1 takes the lease and starts the (slow) grant; it dies mid-grant.
    const grantStarted = idpRequestStarted('/token');
    const doomed = b.request(`${urls[0]}/doomed`, { kind: 'api' }).then(
      (r) => r.status,
      () => 'connection lost',
    );
    await grantStarted;
    const leaseLeft = await redis.pttl(
      `${prefix}lock:{refresh:${sessions.codec.open(b.cookie(urls[1]!, 'gatehouse'))}}`,
    );
    assert.ok(leaseLeft > 0, 'replica 1 holds the lease while its grant runs');
    const killedAt = performance.now();
    await replicas[0]!.kill('SIGKILL');
    assert.equal(await doomed, 'connection lost');

    // Meanwhile users keep clicking on the surviving replicas.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        b.request(`${urls[1 + (i % 2)]}/after-kill/${i}`, { kind: i % 3 ? 'api' : 'navigate' }),
      ),
    );
    const waited = performance.now() - killedAt;
    const stats = idp.stats();
    const note =
      stats.grants.refresh_token > 1
        ? ' — the dev IdP executed the dead replica’s grant after its client disconnected (rotating the token nobody received); ' +
          'this test needs the IdP to drop grants whose client went away during token-endpoint-slow'
        : '';
    assert.deepEqual(
      results.map((r) => r.status),
      Array(20).fill(200),
      `all 200 on replicas 2 and 3 (grants ${stats.grants.refresh_token}, invalid_grant ${stats.errors.invalid_grant ?? 0})${note}`,
    );
    assert.ok(
      waited >= leaseLeft - 200,
      `they waited for the lease to run out (${Math.round(waited)} ms ≥ ~${leaseLeft} ms)`,
    );
    assert.equal(stats.grants.refresh_token, 1, `exactly one executed refresh grant${note}`);
    assert.equal(stats.errors.invalid_grant ?? 0, 0, 'no invalid_grant');
    const renewed = logsSince(mark, 'OIDC token renewed', replicas.slice(1));
    assert.equal(renewed.length, 1, 'one surviving replica renewed');

    idp.setProfiles(['short-expiry']);
    for (const u of urls.slice(1))
      assert.equal((await b.request(`${u}/still-in`, { kind: 'api' })).status, 200);
  });
});
