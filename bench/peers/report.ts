/**
 * Turns the rounds into the Markdown the run prints and writes: the throughput table (median of the
 * rounds, spread = min–max req/s), the ratios, the herd table, and PASS/FAIL against issue 11's targets.
 */
import { table } from '../lib.js';
import type { HerdRow } from './refreshHerd.js';
import type { WrkResult } from './wrk.js';

export const T = {
  upstream: 'upstream directly (Node http)',
  nodeProxy: 'minimal Node proxy (undici Pool.request)',
  apache: 'Apache plain reverse proxy',
  modShm: 'Apache + mod_auth_openidc (shm cache)',
  modRedis: 'Apache + mod_auth_openidc (Redis cache)',
  bare: 'Gatehouse bare (skipAuth: ["/"])',
  memory: 'Gatehouse, logged in, memory store',
  redis: 'Gatehouse, logged in, Redis store',
  redis2: 'Gatehouse, Redis store, 2 workers',
} as const;

export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  min: number;
  max: number;
  rounds: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function summarise(samples: WrkResult[]): Summary {
  const rps = samples.map((s) => s.rps);
  return {
    rps: Math.round(median(rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    errors: samples.reduce((a, s) => a + s.errors, 0),
    non2xx: samples.reduce((a, s) => a + s.non2xx, 0),
    min: Math.min(...rps),
    max: Math.max(...rps),
    rounds: samples.length,
  };
}

export function throughputTable(
  order: string[],
  results: Map<string, Summary>,
  failures: Map<string, string>,
) {
  const rows = order.map((name) => {
    const r = results.get(name);
    if (!r) return [name, 'error', '', '', '', '', failures.get(name) ?? 'not measured'];
    const spread = r.rps ? `${r.min}–${r.max} (±${Math.round(((r.max - r.min) / 2 / r.rps) * 100)} %)` : '';
    const errors = r.errors ? `${r.errors} (${r.non2xx} non-2xx/3xx, ${r.errors - r.non2xx} socket)` : 0;
    return [name, r.rps, r.p50.toFixed(2), r.p99.toFixed(2), errors, spread, failures.get(name) ?? ''];
  });
  return table(
    ['target', 'req/s (median)', 'p50 ms', 'p99 ms', 'errors', 'req/s spread (min–max)', 'note'],
    rows,
  );
}

interface Check {
  what: string;
  a: string;
  b: string;
  target: number;
  p99NoWorse?: boolean;
}
const CHECKS: Check[] = [
  { what: 'memory store vs mod_auth_openidc shm', a: T.memory, b: T.modShm, target: 1.3, p99NoWorse: true },
  { what: 'Redis store vs mod_auth_openidc shm', a: T.redis, b: T.modShm, target: 1.2 },
  { what: 'Redis store vs mod_auth_openidc Redis', a: T.redis, b: T.modRedis, target: 3 },
  { what: 'bare vs minimal Node proxy', a: T.bare, b: T.nodeProxy, target: 0.9 },
];

export function ratioLines(results: Map<string, Summary>): { table: string; verdicts: string[] } {
  const rows: Array<Array<string | number>> = [];
  const verdicts: string[] = [];
  for (const c of CHECKS) {
    const a = results.get(c.a);
    const b = results.get(c.b);
    if (!a || !b?.rps) {
      rows.push([c.what, 'n/a', `≥ ${c.target}×`, '']);
      verdicts.push(`FAIL ${c.what}: not measured`);
      continue;
    }
    const ratio = a.rps / b.rps;
    const p99ok = !c.p99NoWorse || a.p99 <= b.p99;
    // Gatehouse's own errors fail its target; the peer's are named (they make its number less sure).
    const pass = ratio >= c.target && p99ok && a.errors === 0;
    const peerErrors = b.errors ? `; ${b.errors} errors on the peer's side` : '';
    const p99 = (c.p99NoWorse ? `, p99 ${a.p99.toFixed(2)} vs ${b.p99.toFixed(2)} ms` : '') + peerErrors;
    rows.push([
      c.what,
      `${ratio.toFixed(2)}×`,
      `≥ ${c.target}×${c.p99NoWorse ? ', p99 no worse' : ''}`,
      (pass ? 'PASS' : 'FAIL') + (b.errors ? ` (peer: ${b.errors} errors)` : ''),
    ]);
    verdicts.push(`${pass ? 'PASS' : 'FAIL'} ${c.what}: ${ratio.toFixed(2)}× (target ≥ ${c.target}×${p99})`);
  }
  const extra: Array<[string, string, string]> = [
    ['authenticated (memory) vs minimal Node proxy', T.memory, T.nodeProxy],
    ['Gatehouse bare vs Apache plain proxy', T.bare, T.apache],
    ['mod_auth_openidc shm vs Apache plain proxy', T.modShm, T.apache],
    // wrk shares the two cores with the gateway: the second worker competes with the load generator.
    ['Redis store: 2 workers vs 1 (load generator on the same cores)', T.redis2, T.redis],
  ];
  for (const [what, x, y] of extra) {
    const a = results.get(x);
    const b = results.get(y);
    if (a && b?.rps) rows.push([what, `${(a.rps / b.rps).toFixed(2)}×`, '—', '']);
  }
  return { table: table(['ratio', 'measured', 'target', 'verdict'], rows), verdicts };
}

export function herdTable(rows: HerdRow[], failures: string[]): string {
  const body = rows.map((r) => [
    r.target,
    r.n,
    r.refreshGrants,
    r.invalidGrants,
    r.tokenErrors,
    r.failed,
    r.slowestMs.toFixed(1),
    r.survives ? 'yes' : 'NO',
  ]);
  for (const f of failures) body.push([f, '', '', '', '', '', '', '']);
  return table(
    [
      'relying party',
      'concurrent requests',
      'refresh grants at IdP',
      'invalid_grant',
      'token errors (all)',
      'failed requests',
      'slowest ms',
      'session survives',
    ],
    body,
  );
}

/**
 * The gateway's own CPU per request (its processes' user + system time during the runs divided by
 * the requests answered): what a core costs, whatever else shares the machine. 1 s / that = the
 * requests one core can serve, to size bigger machines.
 */
export function cpuTable(order: string[], usPerRequest: Map<string, number[]>): string {
  const rows = order.flatMap((name) => {
    const xs = usPerRequest.get(name);
    if (!xs?.length) return [];
    const us = median(xs);
    return [
      [
        name,
        us.toFixed(1),
        Math.round(1e6 / us),
        `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`,
      ],
    ];
  });
  return table(['target', 'CPU µs / request (median)', 'req/s per busy core', 'spread µs'], rows);
}
