/**
 * `npm run bench:memory`: RSS and heap under N idle sessions (default 100 000) on the memory
 * store, in a child process of its own (nothing else allocated there): the memory store and
 * SessionService built as the gateway builds them (default claims), a baseline after a GC, then N
 * sign-ins with realistic tokens (bench/sessionFootprint.ts: RS256 JWTs, random per session), a GC,
 * and the same figures again — totals and per session.
 * Options: --sessions N (default 100000)
 */

import { parseArgs } from 'node:util';
import { memoryReport } from './memoryReport.js';
import { fillSessions, memorySessions } from './sessionFootprint.js';

const { values } = parseArgs({
  options: { sessions: { type: 'string', default: '100000' }, child: { type: 'boolean', default: false } },
});
const n = Number(values.sessions);
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

export interface Snapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}
export interface ChildResult {
  before: Snapshot;
  after: Snapshot;
  sessions: number;
  storeSize: number;
  sealedLength: number;
  sizes: { access: number; id: number; refresh: number };
  seconds: number;
}

function snapshot(): Snapshot {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('bench/memory.ts --child needs node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external + m.arrayBuffers };
}

if (values.child) {
  const t0 = performance.now();
  const { store, sessions } = memorySessions(n + 10, SECRET);
  // Warm every code path once, then drop it, so the baseline holds the compiled code.
  const warm = memorySessions(10, SECRET);
  await fillSessions(warm.sessions, 5);
  await warm.store.close();
  const before = snapshot();
  const sizes = await fillSessions(sessions, n);
  const after = snapshot();
  let sealedLength = 0;
  for (const [, rec] of (
    store as unknown as { sessions: { entries(): Iterable<[string, { tokens: string }]> } }
  ).sessions.entries())
    sealedLength += rec.tokens.length;
  const result: ChildResult = {
    before,
    after,
    sessions: n,
    storeSize: store.size,
    sealedLength: Math.round(sealedLength / store.size),
    sizes,
    seconds: (performance.now() - t0) / 1000,
  };
  await store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const report = await memoryReport(n);
process.stdout.write(`\n${report.markdown}\n`);
