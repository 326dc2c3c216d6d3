import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CachedStore } from '../../src/store/cachedStore.js';
import { openRedisStore, type RedisStore, type RedisStoreOptions } from '../../src/store/redisStore.js';
import { createLogger } from '../../src/util/log.js';
import { track } from '../helpers/children.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROOT = new URL('../../', import.meta.url).pathname;

/** A prefix no other test file (or run) shares. */
export function uniquePrefix(name: string): string {
  return `ghtest:${name}:${process.pid}:${randomBytes(3).toString('hex')}:`;
}

/**
 * A plain client for assertions, after checking that Redis answers. An unreachable Redis fails the
 * suite with instructions — these tests are never skipped.
 */
export async function requireRedis(url = REDIS_URL): Promise<Redis> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    r.disconnect();
    throw new Error(
      `Redis is not reachable at ${url} (${(err as Error).message}). The Redis store tests need a real Redis: ` +
        'start one (`redis-server --daemonize yes`) or point REDIS_URL at one. They are never skipped.',
    );
  }
  return r;
}

/** Store options as the configuration's defaults give them, on the test Redis under `prefix`. */
export function storeOptions(prefix: string, over: Partial<RedisStoreOptions> = {}): RedisStoreOptions {
  return {
    url: REDIS_URL,
    sentinels: [],
    clusterNodes: [],
    commandTimeoutMs: 1000,
    keyPrefix: prefix,
    cacheTtlMs: 2000,
    ...over,
  };
}

export const silentLogger = createLogger('silent');

/** A Redis store as the gateway opens it: behind its L1 cache (`cacheTtlMs` must not be 0 here). */
export async function openStore(
  prefix: string,
  over: Partial<RedisStoreOptions> = {},
): Promise<CachedStore<RedisStore>> {
  const store = await openRedisStore(storeOptions(prefix, over), silentLogger);
  if (!(store instanceof CachedStore)) throw new Error('openStore: a store with an L1 cache was expected');
  return store;
}

export async function keysUnder(r: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Every key under `prefix` with its whole value as text, whatever its type. */
export async function dumpPrefix(
  r: Redis,
  prefix: string,
): Promise<Array<{ key: string; type: string; text: string }>> {
  const out: Array<{ key: string; type: string; text: string }> = [];
  for (const key of await keysUnder(r, prefix)) {
    const type = await r.type(key);
    let value: unknown;
    if (type === 'string') value = await r.get(key);
    else if (type === 'hash') value = await r.hgetall(key);
    else if (type === 'zset') value = await r.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'list') value = await r.lrange(key, 0, -1);
    else if (type === 'set') value = await r.smembers(key);
    else value = `<${type}>`;
    out.push({ key, type, text: `${key}\n${JSON.stringify(value)}` });
  }
  return out;
}

export async function dropPrefix(r: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(r, prefix);
  if (keys.length) await r.unlink(...keys);
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Resolves with the first line of `stream` that satisfies `pred`; rejects when the process exits first. */
export function waitForLine(
  proc: ChildProcess,
  stream: NodeJS.ReadableStream,
  pred: (line: string) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (pred(line)) return done(undefined, line);
        i = buf.indexOf('\n');
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`process exited (${code ?? signal}) while waiting for ${what}`));
    const onError = (err: NodeJS.ErrnoException) =>
      done(
        new Error(
          err.code === 'ENOENT'
            ? `cannot start ${what}: ${err.path} is not installed (the Redis tests need redis-server and redis-cli, Redis ≥ 6.2)`
            : `cannot start ${what}: ${err.message}`,
        ),
      );
    function done(err?: Error, line?: string) {
      clearTimeout(timer);
      stream.off('data', onData);
      proc.off('exit', onExit);
      proc.off('error', onError);
      if (err) reject(err);
      else resolve(line!);
    }
    stream.on('data', onData);
    proc.on('exit', onExit);
    proc.on('error', onError);
  });
}

export interface RedisServer {
  port: number;
  url: string;
  proc: ChildProcess;
  /** SHUTDOWN (AOF is flushed), resolves when the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves when it accepts connections. */
  restart(): Promise<void>;
  /** Kills it (SIGKILL) and removes its directory. Safe to call twice. */
  destroy(): Promise<void>;
}

/** A dedicated redis-server (AOF on, no RDB) for tests that stop Redis or read server-wide stats. */
export async function startRedisServer(port: number): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-redis-'));
  let proc: ChildProcess;
  const launch = async () => {
    proc = track(
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--dir',
          dir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    proc.stderr!.resume();
    await waitForLine(
      proc,
      proc.stdout!,
      (l) => l.includes('Ready to accept connections'),
      `redis-server :${port}`,
      10_000,
    );
    proc.stdout!.resume();
  };
  await launch();
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get proc() {
      return proc;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM'); // redis-server shuts down cleanly on SIGTERM (fsyncs the AOF)
      await exited;
    },
    restart: launch,
    async destroy() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = once(proc, 'exit');
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface GatewayProcess {
  name: string;
  url: string;
  port: number;
  proc: ChildProcess;
  /** Every stdout line (pino JSON), parsed when possible. */
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  /** Resolves with the first log entry (already seen or future) matching `pred`. */
  waitForLog(
    pred: (entry: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends `signal` and resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  alive(): boolean;
}

/**
 * Runs `gatehouse serve --config FILE` in its own process (the config object is written as YAML —
 * JSON is YAML). Resolves once it listens and has discovered the IdP.
 */
export async function spawnGateway(name: string, config: Record<string, unknown>): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-gw-'));
  const file = join(dir, 'gatehouse.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const proc = track(
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/redis/gatewayProcess.ts'), file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    }),
  );
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const listeners = new Set<(e: Record<string, unknown>) => void>();
  let buf = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { msg: line };
      }
      logs.push(entry);
      if (process.env.GATEHOUSE_TEST_LOG) process.stderr.write(`[${name}] ${line}\n`);
      for (const l of [...listeners]) l(entry);
      i = buf.indexOf('\n');
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString());
    if (process.env.GATEHOUSE_TEST_LOG) process.stderr.write(`[${name}!] ${chunk}`);
  });
  proc.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const waitForLog = (pred: (e: Record<string, unknown>) => boolean, what: string, timeoutMs = 15_000) => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`[${name}] timed out waiting for ${what}`)), timeoutMs);
      const onExit = () =>
        finish(new Error(`[${name}] exited while waiting for ${what}: ${stderr.join('').slice(-2000)}`));
      const l = (e: Record<string, unknown>) => {
        if (pred(e)) finish(undefined, e);
      };
      function finish(err?: Error, e?: Record<string, unknown>) {
        clearTimeout(timer);
        listeners.delete(l);
        proc.off('exit', onExit);
        if (err) reject(err);
        else resolve(e!);
      }
      listeners.add(l);
      proc.once('exit', onExit);
    });
  };

  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const gw: GatewayProcess = {
    name,
    url: '',
    port: 0,
    proc,
    logs,
    stderr,
    waitForLog,
    alive,
    async kill(signal = 'SIGTERM') {
      if (!alive()) return;
      const exited = once(proc, 'exit');
      proc.kill(signal);
      await exited;
    },
  };
  try {
    const discovered = waitForLog((e) => e.msg === 'OIDC provider discovered', 'OIDC discovery', 30_000);
    const line = await waitForLine(
      proc,
      proc.stderr!,
      (l) => l.includes('gatehouse listening on'),
      `${name} listening`,
      30_000,
    );
    const m = /listening on (http:\/\/[^\s]+)/.exec(line);
    gw.url = m![1]!;
    gw.port = Number(new URL(gw.url).port);
    await discovered;
  } catch (err) {
    await gw.kill('SIGKILL');
    throw err;
  }
  return gw;
}

// ---------------------------------------------------------------------------------------------
// Replicas

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface ReplicaSetOptions {
  name: string;
  ports: number[];
  issuer: string;
  upstream: string;
  redisUrl: string;
  prefix: string;
  /** Merged over the defaults per top-level section. */
  config?: Record<string, Record<string, unknown>>;
}

/** Config of replica `i`: all replicas share the secret, Redis, prefix and the public URL (the "load balancer"). */
export function replicaConfig(o: ReplicaSetOptions, i: number): Record<string, unknown> {
  const c = o.config ?? {};
  return {
    listen: `127.0.0.1:${o.ports[i]}`,
    publicUrl: `http://127.0.0.1:${o.ports[0]}`,
    upstream: o.upstream,
    provider: {
      issuer: o.issuer,
      clientId: 'gatehouse',
      clientSecret: 'gatehouse-dev-secret',
      ...c.provider,
    },
    session: {
      secret: TEST_SECRET,
      store: 'redis',
      redisUrl: o.redisUrl,
      redisKeyPrefix: o.prefix,
      ...c.session,
    },
    refresh: { graceSeconds: 0, ...c.refresh },
    logging: { level: 'info', ...c.logging },
  };
}

export async function spawnReplicas(o: ReplicaSetOptions): Promise<GatewayProcess[]> {
  const started = await Promise.allSettled(
    o.ports.map((_, i) => spawnGateway(`${o.name}-${i + 1}`, replicaConfig(o, i))),
  );
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((g) => g.kill('SIGKILL')));
    throw (failed as PromiseRejectedResult).reason;
  }
  return ok;
}

/** Cookie jars are per host:port in TestBrowser; a real browser would send the cookie to every replica. */
export function copyCookies(
  b: { cookies(origin: string): Map<string, string> },
  from: string,
  to: string,
): void {
  const src = b.cookies(new URL(from).host);
  const dst = b.cookies(new URL(to).host);
  for (const [k, v] of src) dst.set(k, v);
}

/**
 * Logs `browser` in through the public URL (replica 1); the "load balancer" routes the IdP's
 * callback to replica 2 (login flows are shared through Redis). The session cookie is then given
 * to every replica's origin, as a browser behind one host name would send it.
 */
export async function loginAcross(
  browser: {
    follow(
      url: string,
      o: { rewrite: (u: string) => string },
    ): Promise<Array<{ status: number; location: string | undefined }>>;
    cookies(origin: string): Map<string, string>;
  },
  urls: string[],
  path = '/dashboard',
): Promise<void> {
  const [first, second] = [urls[0]!, urls[1] ?? urls[0]!];
  const hops = await browser.follow(`${first}${path}`, {
    rewrite: (u) => {
      if (u.startsWith(`${first}/oauth2/callback`)) {
        copyCookies(browser, first, second);
        return second + u.slice(first.length);
      }
      return u;
    },
  });
  const last = hops.at(-1)!;
  if (last.status !== 200) {
    throw new Error(
      `login did not end on the app: ${hops.map((h) => `${h.status} ${h.location ?? ''}`).join(' → ')}`,
    );
  }
  copyCookies(browser, second, first);
  for (const u of urls) copyCookies(browser, first, u);
}

/** `{ 200: 298, 503: 2 }` */
export function countBy(values: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

export interface RedisProcess {
  port: number;
  proc: ChildProcess;
  kill(): Promise<void>;
}

/** Any redis-server (cluster node, sentinel, ...) in `dir`, resolved once its stdout shows `readyLine`. */
export async function spawnRedisProcess(
  args: string[],
  dir: string,
  port: number,
  readyLine: string,
): Promise<RedisProcess> {
  const proc = track(spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  proc.stderr!.resume();
  try {
    await waitForLine(
      proc,
      proc.stdout!,
      (l) => l.includes(readyLine),
      `redis-server :${port} (${readyLine})`,
      10_000,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  proc.stdout!.resume();
  return {
    port,
    proc,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const proc = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const [code] = (await once(proc, 'close')) as [number | null]; // once() rejects on 'error' (e.g. ENOENT)
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`);
  return out;
}

export function tempDir(name: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `gh-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
