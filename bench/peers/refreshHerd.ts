/**
 * The refresh herd, the same for every relying party: wait until the session's access token has
 * expired (real time: the RPs run in their own processes), fire N requests at once, then count what
 * the IdP saw (refresh grants, `invalid_grant`s) and whether the session survived — the next request
 * answers the upstream's 200 without a new login.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { idpStats, resetIdpStats } from './idpStats.js';
import { answers200 } from './login.js';

export interface HerdRow {
  target: string;
  n: number;
  refreshGrants: number;
  invalidGrants: number;
  /** Every token-endpoint error, invalid_grant included. */
  tokenErrors: number;
  failed: number;
  slowestMs: number;
  survives: boolean;
}

/** `urls`: one per replica; request i goes to replica i mod replicas. */
export async function refreshHerd(
  target: string,
  urls: string[],
  cookie: string,
  idpUrl: string,
  ttlSeconds: number,
  sizes: number[],
): Promise<HerdRow[]> {
  const rows: HerdRow[] = [];
  for (const n of sizes) {
    const pools = urls.map((u) => new Pool(u, { connections: Math.max(1, Math.ceil(n / urls.length)) }));
    try {
      // Open the connections on a fresh token first, so the herd measures refresh, not TCP setup.
      await Promise.all(
        pools.map(async (p) => {
          const r = await p.request({ path: '/api/panel', method: 'GET', headers: { cookie } });
          await r.body.dump();
        }),
      );
      await sleep(ttlSeconds * 1000 + 1200); // the access token expires: there is no event to await
      await resetIdpStats(idpUrl);
      let failed = 0;
      const latencies = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const t0 = performance.now();
          try {
            const r = await pools[i % pools.length]!.request({
              path: `/api/panel?herd=${i}`,
              method: 'GET',
              headers: { cookie },
            });
            const body = await r.body.text();
            if (r.statusCode !== 200 || !body.includes('"panel"')) failed++;
          } catch {
            failed++;
          }
          return performance.now() - t0;
        }),
      );
      const s = await idpStats(idpUrl);
      const next = await answers200(`${urls[0]}/api/panel?after-herd`, cookie);
      rows.push({
        target,
        n,
        refreshGrants: s.refreshGrants,
        invalidGrants: s.invalidGrants,
        tokenErrors: s.tokenErrors,
        failed,
        slowestMs: Math.max(...latencies),
        survives: next.ok,
      });
      if (!next.ok) break; // the session is gone: bigger herds on it would only repeat that
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  }
  return rows;
}
