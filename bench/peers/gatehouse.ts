/**
 * Gatehouse in its own process, as a user runs it (`gatehouse serve --config FILE`), with the default
 * configuration apart from what a target needs. Request logging stays on (level info, pino to stdout);
 * stdout goes to /dev/null so the harness does not spend CPU reading log lines during the load.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, stderrTail, stopChild, tempDir, untilAnswers } from './children.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GatehouseInstance {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface GatehouseOptions {
  port: number;
  /** The URL the browser sees (replicas behind one "load balancer" share replica 1's). */
  publicUrl?: string;
  upstream: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  store: 'memory' | 'redis';
  redisKeyPrefix?: string;
  skipAuth?: string[];
  /** `server.workers` (default 1); more than one needs the Redis store. */
  workers?: number;
}

export const GATEHOUSE_SECRET = 'bench-peers-secret-bench-peers-secret-0123456789';

export async function startGatehouse(name: string, o: GatehouseOptions): Promise<GatehouseInstance> {
  const dir = tempDir(`gatehouse-${name}`);
  const file = join(dir, 'gatehouse.yaml');
  const config = {
    listen: `127.0.0.1:${o.port}`,
    publicUrl: o.publicUrl ?? `http://127.0.0.1:${o.port}`,
    upstream: o.upstream,
    provider: { issuer: o.issuer, clientId: o.clientId, clientSecret: o.clientSecret },
    session: {
      secret: GATEHOUSE_SECRET,
      ...(o.store === 'redis'
        ? { store: 'redis', redisUrl: 'redis://127.0.0.1:6379', redisKeyPrefix: o.redisKeyPrefix }
        : {}),
    },
    ...(o.skipAuth ? { skipAuth: o.skipAuth } : {}),
    ...(o.workers ? { server: { workers: o.workers } } : {}),
    logging: { level: 'info' },
  };
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  // BENCH_PEERS_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": extra node flags for profiling a target.
  const extra = (process.env.BENCH_PEERS_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = startChild(
    process.execPath,
    [...extra, '--import', 'tsx', join(ROOT, 'test/redis/gatewayProcess.ts'), file],
    { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const tail = stderrTail(child);
  const url = `http://127.0.0.1:${o.port}`;
  try {
    await untilAnswers(`${url}/readyz`, `Gatehouse (${name})`, child, (s) => s === 200);
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw new Error(`${(err as Error).message}: ${tail()}`);
  }
  return { url, child, stop: () => stopChild(child, 'SIGTERM') };
}
