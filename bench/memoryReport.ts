/**
 * RSS and heap under N idle sessions, measured in a child process of its own (bench/memory.ts
 * --child): the Markdown that `npm run bench:memory` prints and `bench:peers` appends to its report.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { here, table } from './lib.js';
import type { ChildResult } from './memory.js';
import { TOKEN_SIZES } from './sessionFootprint.js';

/** The report, and the heap used per session (the figure issue 11's ≤ 2 KB target is about). */
export async function memoryReport(n: number): Promise<{ markdown: string; heapPerSession: number }> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', here('./memory.ts'), '--child', '--sessions', String(n)],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } },
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
  const markdown =
    `Memory: ${r.sessions} idle sessions on the memory store (default claims), Node ${process.version}, in a process of its own, ${r.seconds.toFixed(1)} s. ` +
    `Tokens per session: RS256 JWTs with random 256-byte signatures, access ${r.sizes.access} + ID ${r.sizes.id} characters (aimed at ${TOKEN_SIZES.access} / ${TOKEN_SIZES.id}), refresh ${r.sizes.refresh}; sealed: ${r.sealedLength} characters.\n\n` +
    table(
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
    );
  return { markdown, heapPerSession: per(r.after.heapUsed - r.before.heapUsed) };
}
