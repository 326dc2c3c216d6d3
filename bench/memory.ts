/**
 * `npm run bench:memory`: RSS and heap under N idle sessions (default 100 000) on the memory
 * store, in a child process of its own (nothing else allocated there): the memory store and
 * SessionService built as the gateway builds them (default claims), a baseline after a GC, then N
 * sign-ins with realistic tokens (bench/sessionFootprint.ts: RS256 JWTs, random per session), a GC,
 * and the same figures again — totals and per session.
 * Options: --sessions N (default 100000)
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { here, table } from './lib.js';
import { fillSessions, memorySessions, TOKEN_SIZES } from './sessionFootprint.js';

const { values } = parseArgs({
  options: { sessions: { type: 'string', default: '100000' }, child: { type: 'boolean', default: false } },
});
const n = Number(values.sessions);
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

interface Snapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}
interface ChildResult {
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

const child = spawn(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', here('./memory.ts'), '--child', '--sessions', String(n)],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let out = '';
child.stdout.on('data', (c: Buffer) => {
  out += c.toString();
});
const [code] = await once(child, 'exit');
if (code !== 0) throw new Error(`memory bench child exited with ${code}`);
const r = JSON.parse(out.trim()) as ChildResult;
if (r.storeSize !== r.sessions) throw new Error(`the store kept ${r.storeSize} of ${r.sessions} sessions`);
const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
const per = (b: number) => Math.round(b / r.sessions);
process.stdout.write(
  `\nGatehouse memory bench — ${r.sessions} idle sessions on the memory store (default claims), Node ${process.version}, ${r.seconds.toFixed(1)} s\n` +
    `tokens per session: RS256 JWTs with random 256-byte signatures, access ${r.sizes.access} + ID ${r.sizes.id} characters (aimed at ${TOKEN_SIZES.access} / ${TOKEN_SIZES.id}), refresh ${r.sizes.refresh}; sealed: ${r.sealedLength} characters\n\n`,
);
process.stdout.write(
  `${table(
    ['after a GC', 'RSS MB', 'heap used MB', 'heap total MB', 'external MB'],
    [
      [
        'baseline (store + service, no session)',
        mb(r.before.rss),
        mb(r.before.heapUsed),
        mb(r.before.heapTotal),
        mb(r.before.external),
      ],
      [
        `${r.sessions} sessions`,
        mb(r.after.rss),
        mb(r.after.heapUsed),
        mb(r.after.heapTotal),
        mb(r.after.external),
      ],
      [
        'per session (bytes)',
        per(r.after.rss - r.before.rss),
        per(r.after.heapUsed - r.before.heapUsed),
        per(r.after.heapTotal - r.before.heapTotal),
        per(r.after.external - r.before.external),
      ],
    ],
  )}\n`,
);
