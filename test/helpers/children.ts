import type { ChildProcess } from 'node:child_process';

/**
 * Safety net for spawned servers (redis-server, nginx, Caddy, gateway replicas): children still
 * running when this test process exits are killed. With `--test-force-exit` (npm test) the
 * process exits once its tests are done even if a failed hook left a child behind, so a failure
 * can never hang the run on a child's open pipes.
 */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export function track<C extends ChildProcess>(c: C): C {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}
