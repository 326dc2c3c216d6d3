/**
 * Micro-benchmark of route selection (RouteTable.select), in process: one route (the single
 * `upstream`), and 50 routes — by host (the last configured host) and by path prefix on one host
 * (the request matching the 50th). Run: `node --import tsx bench/routeMatch.ts [iterations]`.
 * Prints ns per request (best of 5 runs) and that as a share of the authenticated request's
 * cost from `npm run bench` (pass its req/s per core as the second argument; default 2000).
 */

import { pathReadings } from '../src/authz/pathReadings.js';
import { loadConfig } from '../src/config/load.js';
import { RouteTable } from '../src/routes/routeTable.js';

const iterations = Number(process.argv[2] ?? 1_000_000);
const reqPerSecPerCore = Number(process.argv[3] ?? 2000);
const base = {
  publicUrl: 'https://auth.example.com',
  provider: { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's' },
  session: { secret: 'x'.repeat(40) },
};
const table = (extra: Record<string, unknown>) =>
  new RouteTable(loadConfig({ object: { ...base, ...extra }, env: {} }));

const one = table({ upstream: 'http://app:1' });
const byHost = table({
  routes: Array.from({ length: 50 }, (_, i) => ({ host: `app${i}.example.com`, upstream: 'http://app:1' })),
});
const byPath = table({
  routes: [
    ...Array.from({ length: 49 }, (_, i) => ({ pathPrefix: `/app${i}`, upstream: 'http://app:1' })),
    { id: 'rest', upstream: 'http://app:1' },
  ],
});

const path = '/api/v1/items/123';
function best(label: string, t: RouteTable, host: string): number {
  let min = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      const s = t.select(host, pathReadings(path));
      if (s.type === 'route') sink++;
    }
    const ns = Number(process.hrtime.bigint() - t0) / iterations;
    if (ns < min) min = ns;
  }
  const share = (min / (1e9 / reqPerSecPerCore)) * 100;
  console.log(
    `${label.padEnd(40)} ${min.toFixed(0).padStart(5)} ns/request  ${share.toFixed(3)} % of a request (sink ${sink})`,
  );
  return min;
}

const a = best('1 route (single upstream)', one, 'app.example.com');
const b = best('50 routes by host, the last host', byHost, 'app49.example.com');
const c = best('50 routes by path, the 50th matches', byPath, 'app.example.com');
console.log(
  `\nrouting cost of 50 routes over 1: +${(b - a).toFixed(0)} ns (by host), +${(c - a).toFixed(0)} ns (by path) per request — ${(((c - a) / (1e9 / reqPerSecPerCore)) * 100).toFixed(2)} % of a request at ${reqPerSecPerCore} req/s per core (target: ≤ 2 %)`,
);
