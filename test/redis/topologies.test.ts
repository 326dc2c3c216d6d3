import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { CachedStore } from '../../src/store/cachedStore.js';
import type { RedisStore } from '../../src/store/redisStore.js';
import { freeClusterPort } from '../helpers/ports.js';
import { freePort } from '../helpers/stack.js';
import { record } from '../store/record.js';
import { openStore, type RedisProcess, run, spawnRedisProcess, tempDir } from './helpers.js';

/**
 * The same store operations against a 3-master Redis Cluster and through Sentinel, with
 * dedicated local servers. In a cluster every Lua script must stay within one hash slot; a
 * cross-slot script or pipeline would fail here with CROSSSLOT.
 */
/** A freshly created cluster may still be settling when the store opens: wait for its 'state' events. */
async function ready(s: CachedStore<RedisStore>): Promise<void> {
  const signal = AbortSignal.timeout(10_000);
  while (!s.health().ok) {
    try {
      await once(s.inner.events, 'state', { signal });
    } catch {
      assert.fail(`store not ready after 10 s: ${s.health().reason}`);
    }
  }
}

async function exercise(a: CachedStore<RedisStore>, b: CachedStore<RedisStore>): Promise<void> {
  await ready(a);
  await ready(b);
  for (let i = 0; i < 20; i++) {
    assert.equal(
      await a.put(`k${i}`, record({ sub: `usr_${i % 3}`, sid: `sid-${i % 5}` }), 60_000, null),
      true,
    );
  }
  assert.equal(await a.put('k0', record(), 60_000, null), false, 'CAS: exists');
  assert.equal((await b.get('k0'))?.version, 1);
  const gone = new Promise<void>((resolve) => {
    const on = (k: string | undefined) => {
      if (k === 'k0') {
        b.events.off('invalidate', on);
        resolve();
      }
    };
    b.events.on('invalidate', on);
  });
  assert.equal(await a.put('k0', record({ version: 2, sub: 'usr_0', sid: 'sid-0' }), 60_000, 1), true);
  await gone;
  assert.equal((await b.get('k0'))?.version, 2, 'L1 invalidated across the cluster');
  await b.touch('k1', Date.now() + 1000, 120_000);
  assert.equal((await a.get('k1', { fresh: true }))?.version, 1);

  const token = await a.lock.acquire('refresh:k0', 5000);
  assert.ok(token);
  assert.equal(await b.lock.acquire('refresh:k0', 5000), undefined);
  const t0 = performance.now();
  const waiting = b.lock.waitForRelease('refresh:k0', 5000);
  await a.lock.release('refresh:k0', token);
  await waiting;
  assert.ok(performance.now() - t0 < 2000, 'woken by the release message');

  const flow = { browserId: 'br', codeVerifier: 'v', nonce: 'n', returnTo: '/', createdAt: 0 };
  for (const st of ['f1', 'f2', 'f3']) await a.putFlow(st, flow, 60_000, 2);
  assert.deepEqual(await b.takeFlow('f1', 'br'), { ok: false, reason: 'unknown' }, 'evicted');
  assert.deepEqual(await b.takeFlow('f3', 'other'), { ok: false, reason: 'other_browser' });
  assert.equal((await b.takeFlow('f3', 'br')).ok, true);
  assert.deepEqual(await a.takeFlow('f3', 'br'), { ok: false, reason: 'unknown' });
  assert.equal((await a.countHit('login:192.0.2.1', 60_000)).count, 1);
  assert.equal((await b.countHit('login:192.0.2.1', 60_000)).count, 2, 'one count across replicas');
  assert.equal(await a.markOnce('jti:1', 60_000), true);
  assert.equal(await b.markOnce('jti:1', 60_000), false);

  // sid-0 holds k0, k5, k10, k15; usr_0's sessions without a sid: none.
  assert.equal(await b.deleteMatching({ sid: 'sid-0', sub: 'usr_0' }), 4);
  assert.equal(await a.get('k5', { fresh: true }), undefined);
  // usr_1: k1 k4 k7 k13 k16 k19 (k10 went with sid-0)
  assert.equal(await a.deleteMatching({ sub: 'usr_1' }), 6);
  assert.equal((await b.get('k2', { fresh: true }))?.sub, 'usr_2');
}

describe('Redis Cluster (3 masters)', () => {
  const dir = tempDir('cluster');
  const nodes: RedisProcess[] = [];
  let a: CachedStore<RedisStore>;
  let b: CachedStore<RedisStore>;

  before(async () => {
    const ports = [await freeClusterPort(), await freeClusterPort(), await freeClusterPort()];
    // Each node joins `nodes` as soon as it runs, so `after` stops it even if another fails to start.
    await Promise.all(
      ports.map(async (p) => {
        const d = join(dir.path, String(p));
        mkdirSync(d);
        return spawnRedisProcess(
          [
            '--port',
            String(p),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          d,
          p,
          'Ready to accept connections',
        ).then((n) => nodes.push(n));
      }),
    );
    // Returns once every node agrees on the slot map.
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const seeds = [{ host: '127.0.0.1', port: ports[0]! }];
    a = await openStore('gh:', { clusterNodes: seeds });
    b = await openStore('gh:', { clusterNodes: seeds });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await Promise.all(nodes.map((n) => n.kill()));
    dir.remove();
  });

  it('every operation works and keys spread over the masters', async () => {
    await exercise(a, b);
    const counts = await Promise.all(
      nodes.map(async (n) => {
        const r = new Redis(n.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
        try {
          return await r.dbsize();
        } finally {
          r.disconnect();
        }
      }),
    );
    assert.ok(counts.filter((c) => c > 0).length >= 2, `keys on several masters: ${counts.join(',')}`);
  });
});

describe('Redis Sentinel', () => {
  const dir = tempDir('sentinel');
  const procs: RedisProcess[] = [];
  let a: CachedStore<RedisStore>;
  let b: CachedStore<RedisStore>;

  before(async () => {
    const master = await freePort();
    const sentinel = await freePort();
    procs.push(
      await spawnRedisProcess(
        ['--port', String(master), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        dir.path,
        master,
        'Ready to accept connections',
      ),
    );
    const conf = join(dir.path, 'sentinel.conf');
    writeFileSync(
      conf,
      `port ${sentinel}\nbind 127.0.0.1\nsentinel monitor gh-master 127.0.0.1 ${master} 1\n`,
    );
    procs.push(
      await spawnRedisProcess([conf, '--sentinel'], dir.path, sentinel, '+monitor master gh-master'),
    );
    const session = {
      sentinels: [{ host: '127.0.0.1', port: sentinel }],
      sentinelName: 'gh-master',
    };
    a = await openStore('gh:', session);
    b = await openStore('gh:', session);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await Promise.all(procs.map((p) => p.kill()));
    dir.remove();
  });

  it('every operation works through the master the Sentinel names', async () => {
    await exercise(a, b);
  });
});
