/**
 * `npm run bench`: req/s, p50, p99 for the upstream directly, a bare proxy (the same server and
 * proxy code with authentication skipped), and Gatehouse with a logged-in session on the memory
 * store and (when Redis answers) the Redis store; bearer tokens on the memory-store gateway's
 * twin: a JWT access token (verified once, then from the verified-token cache) and an opaque token
 * (introspected once, then from the introspection cache); plus memory per stored session.
 * Options: --seconds N per measurement (default 4) --rounds N (default 3; the median is shown)
 *          --connections N (default 50) --no-redis
 */

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { startDevIdp } from '../src/devidp/index.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/util/log.js';
import { TestBrowser } from '../test/helpers/browser.js';
import { runLoad, spawnTs, table } from './lib.js';
import { fillSessions, memorySessions } from './sessionFootprint.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    'no-redis': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

const upstream = await spawnTs('./upstreamProcess.ts', [], /listening (\d+)/);
const upstreamUrl = `http://127.0.0.1:${upstream.match[1]}`;
const idp = await startDevIdp({
  port: 0,
  quiet: true,
  autoLogin: 'alice',
  accessTokenTtl: 3600,
  idTokenTtl: 3600,
});
// Request logging stays on (it is part of the real hot path), written to /dev/null.
const sink = createWriteStream('/dev/null');

async function gateway(extra: Record<string, unknown>): Promise<{ gw: Gateway; url: string }> {
  const { freePort } = await import('../test/helpers/stack.js');
  const port = await freePort();
  const cfg = loadConfig({
    env: {},
    object: {
      listen: `127.0.0.1:${port}`,
      publicUrl: `http://127.0.0.1:${port}`,
      ...(extra.routes ? { routes: extra.routes } : { upstream: upstreamUrl }),
      provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
      session: { secret: SECRET, ...((extra.session as object) ?? {}) },
      ...(extra.skipAuth ? { skipAuth: extra.skipAuth } : {}),
      ...(extra.bearer ? { bearer: extra.bearer } : {}),
    },
  });
  const gw = await createGateway(cfg, { logger: createLogger('info', sink) });
  const url = await gw.listen();
  await gw.discovered;
  return { gw, url };
}

async function loggedInCookie(url: string): Promise<string> {
  const b = new TestBrowser();
  await b.follow(`${url}/`);
  const c = b.cookie(url, 'gatehouse');
  if (!c) throw new Error('login failed in benchmark setup');
  return `gatehouse=${c}`;
}

async function redisAvailable(): Promise<boolean> {
  if (values['no-redis']) return false;
  const { Redis } = await import('ioredis');
  const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

const rows: Array<Array<string | number>> = [];
const samples: Record<string, Array<{ rps: number; p50: number; p99: number }>> = {};
async function measure(name: string, url: string, headers: Record<string, string> = {}) {
  const r = await runLoad(url, connections, seconds, headers);
  if (r.errors || r.statusErrors)
    throw new Error(`${name}: ${r.errors} errors, ${r.statusErrors} non-200 answers`);
  samples[name] = [...(samples[name] ?? []), r];
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// All setups stay up; rounds interleave them so background noise hits each alike, and the table
// shows the median of the rounds.
const targets: Array<{ name: string; url: string; headers?: Record<string, string> }> = [
  { name: 'upstream directly', url: `${upstreamUrl}/api/panel` },
];
const bare = await gateway({ skipAuth: ['/'] });
targets.push({ name: 'bare proxy (no auth)', url: `${bare.url}/api/panel` });
const mem = await gateway({});
targets.push({
  name: 'Gatehouse, memory store',
  url: `${mem.url}/api/panel`,
  headers: { cookie: await loggedInCookie(mem.url) },
});
// Routing cost: 50 routes, the request's the last one (49 path prefixes compared before it).
const routed = await gateway({
  routes: [
    ...Array.from({ length: 49 }, (_, i) => ({
      id: `app${i}`,
      pathPrefix: `/app${i}`,
      upstream: upstreamUrl,
    })),
    { id: 'rest', upstream: upstreamUrl },
  ],
});
targets.push({
  name: 'Gatehouse, 50 routes',
  url: `${routed.url}/api/panel`,
  headers: { cookie: await loggedInCookie(routed.url) },
});
// Bearer tokens: the dev IdP's access token is a JWT (aud = the client id). The opaque token is
// introspected at a one-answer endpoint here: with the answer cached for the whole run (what is
// measured is the cached path), it is asked once.
const { relyingParty, login: rpLogin } = await import('../test/devidp/helpers.js');
const jwt = (await rpLogin(await relyingParty(idp), { login_hint: 'alice' })).access_token;
let introspections = 0;
const introspection = createServer((_req, res) => {
  introspections++;
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      active: true,
      iss: idp.issuer,
      sub: 'ci-bot',
      client_id: 'ci-bot',
      aud: 'gatehouse-api',
      scope: 'api:read',
      exp: Math.floor(Date.now() / 1000) + 3600,
    }),
  );
});
await new Promise<void>((r) => introspection.listen(0, '127.0.0.1', r));
const bearer = await gateway({
  bearer: {
    accept: ['jwt', 'introspection'],
    audiences: ['gatehouse', 'gatehouse-api'],
    introspection: {
      endpoint: `http://127.0.0.1:${(introspection.address() as AddressInfo).port}/introspect`,
      cacheSeconds: 3600,
    },
  },
});
targets.push({
  name: 'Gatehouse, bearer JWT',
  url: `${bearer.url}/api/panel`,
  headers: { authorization: `Bearer ${jwt}` },
});
targets.push({
  name: 'Gatehouse, bearer opaque',
  url: `${bearer.url}/api/panel`,
  headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` },
});
let redisNote = '';
let red: { gw: Gateway; url: string } | undefined;
const redisPrefix = `bench:${process.pid}:`;
if (await redisAvailable()) {
  try {
    red = await gateway({ session: { store: 'redis', redisKeyPrefix: redisPrefix } });
    targets.push({
      name: 'Gatehouse, Redis store',
      url: `${red.url}/api/panel`,
      headers: { cookie: await loggedInCookie(red.url) },
    });
  } catch (err) {
    redisNote = `Redis store not measured: ${(err as Error).message}`;
  }
} else redisNote = 'Redis store not measured: no Redis at REDIS_URL';

for (let round = 0; round < rounds; round++) {
  for (const t of targets) await measure(t.name, t.url, t.headers);
}
await bare.gw.close();
await mem.gw.close();
await routed.gw.close();
await bearer.gw.close();
introspection.close();
if (red) {
  await red.gw.close();
  const { dropPrefix, requireRedis } = await import('../test/redis/helpers.js');
  const r = await requireRedis();
  await dropPrefix(r, redisPrefix);
  r.disconnect();
}

const results: Record<string, { rps: number; p50: number; p99: number }> = {};
for (const [name, xs] of Object.entries(samples)) {
  results[name] = {
    rps: median(xs.map((x) => x.rps)),
    p50: median(xs.map((x) => x.p50)),
    p99: median(xs.map((x) => x.p99)),
  };
}
const base = results['bare proxy (no auth)']!;
for (const [name, r] of Object.entries(results)) {
  rows.push([
    name,
    r.rps,
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    `${Math.round((r.rps / base.rps) * 100)} %`,
    `${(r.p99 - base.p99 >= 0 ? '+' : '') + (r.p99 - base.p99).toFixed(2)}`,
  ]);
}

// Memory per stored session (default claims, realistic tokens: bench/sessionFootprint.ts), on the memory store.
async function bytesPerSession(
  n: number,
): Promise<{ per: number; sizes: { access: number; id: number; refresh: number } }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const { store, sessions } = memorySessions(n + 10, SECRET);
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const sizes = await fillSessions(sessions, n);
  gc?.();
  const per = (process.memoryUsage().heapUsed - before) / n;
  await store.close();
  return { per: Math.round(per), sizes };
}
const { per: perSession, sizes: tokenSizes } = await bytesPerSession(20_000);

process.stdout.write(
  `\nGatehouse proxy benchmark — ${connections} connections, median of ${rounds} interleaved rounds of ${seconds} s, Node ${process.version}, ${(await import('node:os')).cpus().length} cores\n\n`,
);
process.stdout.write(`${table(['setup', 'req/s', 'p50 ms', 'p99 ms', 'vs bare proxy', 'p99 Δ ms'], rows)}\n`);
if (redisNote) process.stdout.write(`\n${redisNote}\n`);
const jwtRow = results['Gatehouse, bearer JWT']!;
const sessionRow = results['Gatehouse, memory store']!;
process.stdout.write(
  `\nbearer JWT vs memory-store session: ${Math.round((jwtRow.rps / sessionRow.rps) * 100)} % of its req/s (target: ≥ 100 %); opaque token: ${introspections} introspection call(s) in the whole run\n`,
);
const routedRow = results['Gatehouse, 50 routes']!;
process.stdout.write(
  `\n50 routes (the last one matching) vs one upstream: ${Math.round((routedRow.rps / sessionRow.rps) * 1000) / 10} % of its req/s (target: ≥ 98 %)\n`,
);
process.stdout.write(
  `\nmemory per stored session (memory store, default claims, sealed tokens: RS256 JWTs with random signatures, access ${tokenSizes.access} + ID ${tokenSizes.id} + refresh ${tokenSizes.refresh} characters): ~${perSession} bytes${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for a precise number)'}\n`,
);

sink.end();
await idp.stop();
upstream.child.kill();
process.exit(0);
