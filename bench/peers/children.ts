/**
 * Every process and temp dir `bench:peers` creates is registered here and removed on exit — normal
 * end, an error, or Ctrl-C — so a run never leaves an Apache, a gateway or an IdP behind.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

function killAll(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      // Detached children lead their own process group (Apache forks workers): kill the group.
      try {
        process.kill(-c.pid, signal);
      } catch {
        c.kill(signal);
      }
    }
  }
}
function removeDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
process.once('exit', () => {
  killAll('SIGKILL');
  removeDirs();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\nbench:peers: ${sig}, stopping every child process\n`);
    // SIGTERM first so Apache removes its shared memory and gateways close cleanly; the exit
    // handler SIGKILLs whatever is still there after 3 s.
    killAll('SIGTERM');
    const exited = [...children].map((c) => once(c, 'exit'));
    const timer = setTimeout(() => process.exit(130), 3000);
    void Promise.all(exited).then(() => {
      clearTimeout(timer);
      process.exit(130);
    });
  });
}

export function tempDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `bench-peers-${name}-`));
  dirs.add(d);
  return d;
}

/** Registers a child started elsewhere (wrk through execFile) so it is killed on exit too. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function startChild(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...opts });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops one child (its whole process group) and waits for it to exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** Polls `url` until it answers at all (any status), or fails after `timeoutMs` naming `what`. */
export async function untilAnswers(
  url: string,
  what: string,
  child?: ChildProcess,
  ok: (status: number) => boolean = () => true,
  timeoutMs = 20_000,
) {
  const { request } = await import('undici');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it answered`);
    try {
      const r = await request(url, { headersTimeout: 2000 });
      await r.body.dump();
      if (ok(r.statusCode)) return;
      last = `status ${r.statusCode}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100)); // polling a port that has no event to await
  }
  throw new Error(`${what} did not answer at ${url} within ${timeoutMs} ms (${last})`);
}

export function stderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (c: Buffer) => {
    tail = (tail + c.toString()).slice(-4000);
  });
  return () => tail;
}
