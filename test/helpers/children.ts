import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after } from 'node:test';

/**
 * Safety net for spawned servers (redis-server, nginx, Caddy, gateway replicas): children still
 * running when this file's tests are done are killed. Without it, a hook that fails after starting
 * some of its children would leave them running, and their open pipes would keep the test process
 * (and the whole run) alive forever; a CI run once hung that way.
 */
const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

process.once('exit', killAll);
// A root-level `after` runs once every test of this file has ended, failed hooks included. Only
// under the test runner: benchmarks import these helpers too.
if (process.env.NODE_TEST_CONTEXT) after(killAll);

export function track<C extends ChildProcess>(c: C): C {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** Sends `signal` and resolves once the child has exited; at once when it already has. */
export async function stopChild(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill(signal);
  await exited;
}
