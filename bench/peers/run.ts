/**
 * `npm run bench:peers`: Gatehouse side by side with Apache + mod_auth_openidc, on one upstream and one
 * certified IdP (`oidc-provider`), every target in its own process, measured by wrk in interleaved
 * rounds; then the refresh herd for mod_auth_openidc and Gatehouse (1 and 3 replicas). Writes
 * bench/results/peers-<date>.md. See docs/performance.md.
 * Options: --rounds N (3) --seconds N (8) --threads N (2) --connections N (32) --ttl N (herd access
 *          token seconds, 4) --quick (1 round of 3 s, herd 1 and 50: < 2 min, prints PASS/FAIL);
 *          every target gets an uncounted warm-up run first (3 s, 2 s with --quick)
 *          --no-herd --no-memory (skip the 100 000 idle sessions measurement) --out FILE --redis-db N (mod_auth_openidc's Redis database, 13; flushed at the end)
 *          --only TEXT (measure only the targets whose name contains TEXT, e.g. "redis store")
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/helpers/ports.js';
import { memoryReport } from '../memoryReport.js';
import { type ApacheOidc, redirectPath, startApache } from './apache.js';
import { startChild, stderrTail, stopChild, untilAnswers } from './children.js';
import { cpuSecondsOfTree } from './cpuTime.js';
import { startGatehouse } from './gatehouse.js';
import { answers200, loginThrough } from './login.js';
import { type HerdRow, refreshHerd } from './refreshHerd.js';
import { cpuTable, herdTable, ratioLines, type Summary, summarise, T, throughputTable } from './report.js';
import { ensureRequirements } from './requirements.js';
import { runWrk, type WrkResult } from './wrk.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    ttl: { type: 'string', default: '4' },
    quick: { type: 'boolean', default: false },
    'no-herd': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'redis-db': { type: 'string', default: '13' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = values.quick;
const only = values.only?.toLowerCase();
const rounds = quick ? 1 : Number(values.rounds);
const seconds = quick ? 3 : Number(values.seconds);
const warmSeconds = quick ? 2 : 3;
const wrkOpts = { threads: Number(values.threads), connections: Number(values.connections), seconds };
const herdTtl = Number(values.ttl);
const herdSizes = quick ? [1, 50] : [1, 2, 50];
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const log = (m: string) => process.stderr.write(`bench:peers: ${m}\n`);

ensureRequirements();

// Ports first: the IdP registers every relying party's exact redirect URI.
const port = async () => freePort();
const P = {
  idp: await port(),
  nodeProxy: await port(),
  apache: await port(),
  modShm: await port(),
  modRedis: await port(),
  modHerd: await port(),
  bare: await port(),
  memory: await port(),
  redis: await port(),
  redis2: await port(),
  herd1: await port(),
  herd3: [await port(), await port(), await port()],
};
const idpUrl = `http://127.0.0.1:${P.idp}`;
const secret = 'bench-peers-client-secret-0123456789';
const at = (p: number, path: string) => `http://127.0.0.1:${p}${path}`;
const clients = [
  { id: 'apache-shm', secret, redirect: at(P.modShm, redirectPath) },
  { id: 'apache-redis', secret, redirect: at(P.modRedis, redirectPath) },
  { id: 'apache-herd', secret, redirect: at(P.modHerd, redirectPath) },
  { id: 'gatehouse-bare', secret, redirect: at(P.bare, '/oauth2/callback') },
  { id: 'gatehouse-memory', secret, redirect: at(P.memory, '/oauth2/callback') },
  { id: 'gatehouse-redis', secret, redirect: at(P.redis, '/oauth2/callback') },
  { id: 'gatehouse-redis2', secret, redirect: at(P.redis2, '/oauth2/callback') },
  { id: 'gatehouse1-herd', secret, redirect: at(P.herd1, '/oauth2/callback') },
  { id: 'gatehouse3-herd', secret, redirect: at(P.herd3[0]!, '/oauth2/callback') },
];
const runId = `${process.pid}-${Date.now().toString(36)}`;
const redisPrefix = (name: string) => `bench-peers:${runId}:${name}:`;
// mod_auth_openidc has no key prefix: it gets a Redis database of its own, emptied at the end.
const MOD_REDIS_DB = Number(values['redis-db']);

const upstreamChild = startChild(process.execPath, ['--import', 'tsx', here('../upstreamProcess.ts')], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
const upstreamPort = await new Promise<string>((resolve, reject) => {
  let buf = '';
  upstreamChild.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const m = /listening (\d+)/.exec(buf);
    if (m) resolve(m[1]!);
  });
  upstreamChild.once('exit', (c) => reject(new Error(`upstream exited with ${c}`)));
});
const upstream = `http://127.0.0.1:${upstreamPort}`;
const idpChild = startChild(
  process.execPath,
  ['--import', 'tsx', here('./idpProcess.ts'), JSON.stringify(clients), String(herdTtl), String(P.idp)],
  { cwd: here('../../') },
);
const idpTail = stderrTail(idpChild);
await untilAnswers(`${idpUrl}/.well-known/openid-configuration`, 'oidc-provider', idpChild).catch((e) => {
  throw new Error(`${(e as Error).message}: ${idpTail()}`);
});
log(`upstream ${upstream}, oidc-provider ${idpUrl}`);

interface Target {
  name: string;
  url: string;
  cookie: string;
  /** A Gatehouse target's process (the primary, with workers): its CPU per request is reported. */
  pid?: number | undefined;
}
const targets: Target[] = [];
const failures = new Map<string, string>();
const stops: Array<() => Promise<void>> = [];

async function setUp(
  name: string,
  start: () => Promise<{ url: string; cookie: string; pid?: number | undefined }>,
): Promise<void> {
  if (only !== undefined && !name.toLowerCase().includes(only)) return;
  try {
    const t = await start();
    const check = await answers200(`${t.url}/api/panel`, t.cookie);
    if (!check.ok)
      throw new Error(`answers ${check.status} with the logged-in cookie, not the upstream's 200`);
    targets.push({ name, ...t });
    log(`ready: ${name}`);
  } catch (err) {
    failures.set(name, (err as Error).message.replace(/\s+/g, ' ').slice(0, 300));
    log(`FAILED to start ${name}: ${(err as Error).message}`);
  }
}
const oidc = (clientId: string, cache: 'shm' | 'redis'): ApacheOidc => ({
  issuer: idpUrl,
  clientId,
  clientSecret: secret,
  cache,
  refreshBeforeExpiry: 1,
  redisServer: '127.0.0.1:6379',
  redisDatabase: MOD_REDIS_DB,
});
const gh = (clientId: string, p: number, store: 'memory' | 'redis', extra = {}) => ({
  port: p,
  upstream,
  issuer: idpUrl,
  clientId,
  clientSecret: secret,
  store,
  redisKeyPrefix: redisPrefix(clientId),
  ...extra,
});

await setUp(T.upstream, async () => ({ url: upstream, cookie: '' }));
await setUp(T.nodeProxy, async () => {
  const c = startChild(process.execPath, [
    '--import',
    'tsx',
    here('./nodeProxy.ts'),
    upstream,
    String(P.nodeProxy),
  ]);
  stops.push(() => stopChild(c));
  await untilAnswers(at(P.nodeProxy, '/'), 'minimal Node proxy', c);
  return { url: at(P.nodeProxy, ''), cookie: '' };
});
await setUp(T.apache, async () => {
  const a = await startApache('plain', P.apache, upstream);
  stops.push(a.stop);
  return { url: a.url, cookie: '' };
});
for (const [name, p, id, cache] of [
  [T.modShm, P.modShm, 'apache-shm', 'shm'],
  [T.modRedis, P.modRedis, 'apache-redis', 'redis'],
] as const) {
  await setUp(name, async () => {
    const a = await startApache(id, p, upstream, oidc(id, cache));
    stops.push(a.stop);
    return { url: a.url, cookie: (await loginThrough(a.url, idpUrl)).cookie };
  });
}
await setUp(T.bare, async () => {
  const g = await startGatehouse('bare', gh('gatehouse-bare', P.bare, 'memory', { skipAuth: ['/'] }));
  stops.push(g.stop);
  return { url: g.url, cookie: '', pid: g.child.pid };
});
for (const [name, p, id, store, workers] of [
  [T.memory, P.memory, 'gatehouse-memory', 'memory', 1],
  [T.redis, P.redis, 'gatehouse-redis', 'redis', 1],
  [T.redis2, P.redis2, 'gatehouse-redis2', 'redis', 2],
] as const) {
  await setUp(name, async () => {
    const g = await startGatehouse(id, gh(id, p, store, { workers }));
    stops.push(g.stop);
    return { url: g.url, cookie: (await loginThrough(g.url, idpUrl)).cookie, pid: g.child.pid };
  });
}

// A warm-up run per target, not counted: every target is measured warm (Node's JIT, Apache's
// worker threads and mod_auth_openidc's caches), as a gateway in service is.
for (const t of targets) {
  if (failures.has(t.name)) continue;
  try {
    await runWrk(`${t.url}/api/panel`, t.cookie, { ...wrkOpts, seconds: warmSeconds });
  } catch (err) {
    failures.set(t.name, `warm-up: ${(err as Error).message.slice(0, 300)}`);
  }
}

// Interleaved rounds: round 1 runs every target, then round 2 …, so background noise hits all alike.
const samples = new Map<string, WrkResult[]>();
const cpuUs = new Map<string, number[]>();
for (let round = 1; round <= rounds; round++) {
  for (const t of targets) {
    if (failures.has(t.name)) continue;
    try {
      const cpuBefore = t.pid ? cpuSecondsOfTree(t.pid) : undefined;
      const r = await runWrk(`${t.url}/api/panel`, t.cookie, wrkOpts);
      const cpuAfter = t.pid ? cpuSecondsOfTree(t.pid) : undefined;
      if (cpuBefore !== undefined && cpuAfter !== undefined && r.requests > 0) {
        cpuUs.set(t.name, [...(cpuUs.get(t.name) ?? []), ((cpuAfter - cpuBefore) * 1e6) / r.requests]);
      }
      const after = await answers200(`${t.url}/api/panel`, t.cookie);
      if (!after.ok) throw new Error(`after round ${round} the cookie gets ${after.status}, not 200`);
      samples.set(t.name, [...(samples.get(t.name) ?? []), r]);
      log(`round ${round}/${rounds} ${t.name}: ${r.rps} req/s p99 ${r.p99} ms errors ${r.errors}`);
    } catch (err) {
      failures.set(t.name, (err as Error).message.slice(0, 300));
    }
  }
}
const results = new Map<string, Summary>();
for (const [name, xs] of samples) if (!failures.has(name)) results.set(name, summarise(xs));
for (const s of stops.splice(0)) await s().catch(() => undefined);

// The refresh herd, side by side.
const herdRows: HerdRow[] = [];
const herdFailures: string[] = [];
async function herd(name: string, run: () => Promise<HerdRow[]>) {
  try {
    herdRows.push(...(await run()));
    log(`herd done: ${name}`);
  } catch (err) {
    herdFailures.push(`${name}: error — ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 200)}`);
  }
}
if (!values['no-herd']) {
  await herd('mod_auth_openidc', async () => {
    const a = await startApache('herd', P.modHerd, upstream, oidc('apache-herd', 'shm'));
    try {
      const { cookie } = await loginThrough(a.url, idpUrl);
      return await refreshHerd(
        'Apache + mod_auth_openidc (shm)',
        [a.url],
        cookie,
        idpUrl,
        herdTtl,
        herdSizes,
      );
    } finally {
      await a.stop();
    }
  });
  await herd('Gatehouse 1 replica', async () => {
    const g = await startGatehouse('herd1', gh('gatehouse1-herd', P.herd1, 'redis'));
    try {
      const { cookie } = await loginThrough(g.url, idpUrl);
      return await refreshHerd('Gatehouse, 1 replica (Redis)', [g.url], cookie, idpUrl, herdTtl, herdSizes);
    } finally {
      await g.stop();
    }
  });
  await herd('Gatehouse 3 replicas', async () => {
    const publicUrl = at(P.herd3[0]!, '');
    const gs = await Promise.all(
      P.herd3.map((p, i) => startGatehouse(`herd3-${i}`, gh('gatehouse3-herd', p, 'redis', { publicUrl }))),
    );
    try {
      // The "load balancer" sends the IdP's callback to replica 2: login flows are shared through Redis.
      const second = gs[1]!.url;
      const { browser } = await loginThrough(publicUrl, idpUrl, '/api/panel', 'alice', (u, b) => {
        if (!u.startsWith(`${publicUrl}/oauth2/callback`)) return u;
        // One host name in front of all replicas: the browser sends replica 1's cookies to replica 2.
        const to = b.cookies(new URL(second).host);
        for (const [k, v] of b.cookies(new URL(publicUrl).host)) to.set(k, v);
        return second + u.slice(publicUrl.length);
      });
      const cookie = [...browser.cookies(new URL(second).host)].map(([k, v]) => `${k}=${v}`).join('; ');
      return await refreshHerd(
        'Gatehouse, 3 replicas (Redis)',
        gs.map((g) => g.url),
        cookie,
        idpUrl,
        herdTtl,
        herdSizes,
      );
    } finally {
      await Promise.all(gs.map((g) => g.stop()));
    }
  });
}

await stopChild(idpChild);
await stopChild(upstreamChild);
await dropRedis();

async function dropRedis(): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `bench-peers:${runId}:*`, 'COUNT', 500);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    // mod_auth_openidc's database: only this run used it (its keys expire on their own too).
    await r.select(MOD_REDIS_DB);
    await r.flushdb();
  } catch {
    // Redis gone: nothing to clean up
  } finally {
    r.disconnect();
  }
}

const ratios = ratioLines(results);
// Memory under 100 000 idle sessions (issue 11), in a process of its own once the load is over.
let memory = 'Memory under 100 000 idle sessions: skipped (--no-memory).';
if (!values['no-memory']) {
  log('memory: 100 000 idle sessions (bench/memory.ts)');
  try {
    const m = await memoryReport(100_000);
    memory = m.markdown;
    const ok = m.heapPerSession <= 2048;
    ratios.verdicts.push(
      `${ok ? 'PASS' : 'FAIL'} memory per idle session (heap, memory store): ${m.heapPerSession} bytes (target ≤ 2048)`,
    );
  } catch (err) {
    memory = `Memory under 100 000 idle sessions: failed (${(err as Error).message}).`;
  }
}

const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
const version = (cmd: string) => {
  try {
    return execSync(cmd, { encoding: 'utf8' }).trim().split('\n')[0]!;
  } catch {
    return 'unknown';
  }
};
const order = (Object.values(T) as string[]).filter(
  (n) => only === undefined || n.toLowerCase().includes(only),
);
const date = new Date().toISOString();
const md = [
  `# bench:peers — ${date}${quick ? ' (quick)' : ''}`,
  '',
  `Machine: ${cpus().length} cores (nproc ${version('nproc')}), ${cpuModel}; Node ${process.version}; ${version('apache2 -v')}; mod_auth_openidc ${version(`dpkg-query -W -f='$\{Version}' libapache2-mod-auth-openidc`)}; ${version('wrk --version 2>&1 || true')}.`,
  `Load: wrk -t${wrkOpts.threads} -c${wrkOpts.connections} -d${seconds}s on the same machine, ${rounds} interleaved round(s), medians; GET /api/panel (a ${'~80'}-byte JSON answer); errors = non-2xx/3xx + socket errors, and every target's cookie is checked to get the upstream's 200 before and after each run.`,
  '',
  throughputTable(order, results, failures),
  '',
  `"${T.redis2}" is one gatehouse serve with server.workers: 2. wrk runs on the same ${cpus().length} cores, so the second worker competes with the load generator: the scaling measured here is a floor, not what a machine with cores to spare gets.`,
  '',
  ratios.table,
  '',
  'The gateway’s own CPU per request (all its processes, user + system, during the runs):',
  '',
  cpuTable(order, cpuUs),
  '',
  values['no-herd']
    ? 'Refresh herd: skipped (--no-herd).'
    : `Refresh herd: access tokens live ${herdTtl} s; after expiry N requests at once on one logged-in session; oidc-provider rotates refresh tokens (a reused one is invalid_grant).\n\n${herdTable(herdRows, herdFailures)}`,
  '',
  memory,
  '',
].join('\n');
process.stdout.write(`\n${md}\n`);
if (quick) process.stdout.write(`${ratios.verdicts.join('\n')}\n`);
const out = values.out ?? here(`../results/peers-${date.slice(0, 10)}${quick ? '-quick' : ''}.md`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, md);
log(`written ${out}`);
process.exit(0);
