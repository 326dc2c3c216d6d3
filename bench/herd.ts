/**
 * `npm run bench:herd`: a refresh herd. A logged-in session's token expires and N requests arrive
 * at once (1, 50, 500). Reports IdP refresh grants per session per expiry (target 1), failed
 * requests (target 0) and the slowest request's latency minus the IdP's token latency (the cost
 * of coordination; target < 20 ms at 500). The dev IdP runs with rotation and reuse detection, so
 * a duplicate grant would also show up as failures.
 * Options: --cycles N (expiry events per row, default 5; medians shown) --replicas N (Redis, processes)
 */
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startDevIdp } from '../src/devidp/index.js';
import { ManualClock } from '../src/util/clock.js';
import { TestBrowser } from '../test/helpers/browser.js';
import { login, startStack } from '../test/helpers/stack.js';
import { table } from './lib.js';

const { values } = parseArgs({
  options: { cycles: { type: 'string', default: '5' }, replicas: { type: 'string', default: '1' } },
});
if (values.replicas !== '1') {
  const { runReplicaHerd } = await import('./herdReplicas.js');
  await runReplicaHerd(Number(values.replicas), Number(values.cycles));
  process.exit(0);
}
const cycles = Number(values.cycles);
const TTL = 300;

const idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
const rows: Array<Array<string | number>> = [];
for (const n of [1, 50, 500]) {
  const clock = new ManualClock();
  const s = await startStack({ idpInstance: idp, clock });
  const b = new TestBrowser();
  await login(s, b);
  const cookie = `gatehouse=${b.cookie(s.url, 'gatehouse')}`;
  const pool = new Pool(s.url, { connections: n });
  let worstGrants = 0;
  let failed = 0;
  const fire = () =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const t0 = performance.now();
        const res = await pool.request({
          path: '/api/panel',
          method: 'GET',
          headers: { cookie, accept: 'application/json' },
        });
        await res.body.dump();
        if (res.statusCode !== 200) failed++;
        return performance.now() - t0;
      }),
    );
  const tokenSeconds = async () =>
    (await s.gw.metrics.tokenLatency.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  // Warm-up herd on a fresh token: opens the n connections, so what follows measures refresh, not TCP.
  await fire();
  const fresh: number[] = [];
  const expiry: number[] = [];
  const token: number[] = [];
  const overhead: number[] = [];
  for (let c = 0; c < cycles; c++) {
    // The same herd twice: once on a fresh token (the cost of serving n requests at all), once
    // just after expiry. The difference, less the IdP's own token latency, is what coordination costs.
    const f = Math.max(...(await fire()));
    clock.advance(TTL * 1000 + 1000);
    idp.reset();
    const before = await tokenSeconds();
    const e = Math.max(...(await fire()));
    const t = ((await tokenSeconds()) - before) * 1000;
    worstGrants = Math.max(worstGrants, idp.stats().grants.refresh_token);
    failed += idp.stats().errors.invalid_grant ?? 0;
    fresh.push(f);
    expiry.push(e);
    token.push(t);
    overhead.push(e - t - f);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  rows.push([
    n,
    worstGrants,
    failed,
    med(token).toFixed(1),
    med(fresh).toFixed(1),
    med(expiry).toFixed(1),
    (med(expiry) - med(token)).toFixed(1),
    Math.max(0, med(overhead)).toFixed(1),
  ]);
  await pool.close();
  await s.close();
}
process.stdout.write(
  `\nRefresh herd — ${cycles} expiry events per row, one replica, memory store, Node ${process.version}\n\n`,
);
process.stdout.write(
  `${table(
    [
      'concurrent requests',
      'IdP grants per expiry (max)',
      'failed requests',
      'IdP token latency ms',
      'slowest, fresh token ms',
      'slowest at expiry ms',
      'slowest at expiry − IdP latency ms',
      'added by coordination ms',
    ],
    rows,
  )}\n`,
);
await idp.stop();
process.exit(0);
