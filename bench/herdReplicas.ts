/**
 * `npm run bench:herd -- --replicas N`: the refresh herd across N gateway processes sharing one
 * Redis (the distributed path: lease lock, re-read, compare-and-set, publish). Tokens live 3 s,
 * so each expiry event waits for real time (processes cannot share a driven clock).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { startDevIdp } from '../src/devidp/index.js';
import { TestBrowser } from '../test/helpers/browser.js';
import { freePort } from '../test/helpers/stack.js';
import { startEchoUpstream } from '../test/helpers/upstream.js';
import {
  dropPrefix,
  loginAcross,
  REDIS_URL,
  requireRedis,
  spawnReplicas,
  uniquePrefix,
} from '../test/redis/helpers.js';
import { table } from './lib.js';

const TTL_S = 3;

export async function runReplicaHerd(replicas: number, cycles: number): Promise<void> {
  const redis = await requireRedis();
  const prefix = uniquePrefix('bench-herd');
  const idp = await startDevIdp({
    port: 0,
    quiet: true,
    autoLogin: 'alice',
    accessTokenTtl: TTL_S,
    idTokenTtl: 3600,
  });
  const upstream = await startEchoUpstream();
  const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
  const procs = await spawnReplicas({
    name: 'bench',
    ports,
    issuer: idp.issuer,
    upstream: upstream.url,
    redisUrl: REDIS_URL,
    prefix,
  });
  const urls = procs.map((p) => p.url);
  const rows: Array<Array<string | number>> = [];
  try {
    for (const n of [1, 50, 500]) {
      const b = new TestBrowser();
      await loginAcross(b, urls);
      const cookie = `gatehouse=${b.cookie(urls[0]!, 'gatehouse')}`;
      const pools = urls.map((u) => new Pool(u, { connections: Math.ceil(n / replicas) }));
      let worstGrants = 0;
      let failed = 0;
      let slowest = 0;
      for (let c = 0; c < cycles; c++) {
        await sleep(TTL_S * 1000 + 300); // the access token expires (real time, see above)
        idp.reset();
        const latencies = await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            const t0 = performance.now();
            const res = await pools[i % replicas]!.request({
              path: `/herd/${i}`,
              method: 'GET',
              headers: { cookie, accept: 'application/json' },
            });
            await res.body.dump();
            if (res.statusCode !== 200) failed++;
            return performance.now() - t0;
          }),
        );
        worstGrants = Math.max(worstGrants, idp.stats().grants.refresh_token);
        failed += idp.stats().errors.invalid_grant ?? 0;
        slowest = Math.max(slowest, ...latencies);
      }
      rows.push([n, worstGrants, failed, slowest.toFixed(1)]);
      await Promise.all(pools.map((p) => p.close()));
    }
  } finally {
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await upstream.close();
    await idp.stop();
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
  process.stdout.write(
    `\nRefresh herd — ${replicas} replica processes, Redis store, ${cycles} expiry events per row, Node ${process.version}\n\n`,
  );
  process.stdout.write(
    `${table(['concurrent requests (spread over replicas)', 'IdP grants per expiry (max)', 'failed requests', 'slowest request ms'], rows)}\n`,
  );
}
