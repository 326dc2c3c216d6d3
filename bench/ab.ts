/**
 * A/B of the request hot path between two checkouts, in one run: `npm run bench:ab -- --a ../main --b .`
 * Each checkout's gateway runs in its own process as a user runs it (`gatehouse serve`, request
 * logging on at info, stdout to /dev/null), behind the same upstream process and dev IdP; wrk (its
 * own process) drives A and B in interleaved rounds, so background load hits both alike. Prints
 * req/s, p99, the gateway's own CPU time per request (user + system, from /proc: far steadier than
 * req/s when other work shares the cores) and its read/write syscalls per request, per round, and
 * the B/A ratios (median and spread over the rounds).
 * Options: --mode bare|memory (default memory: a logged-in session) --rounds N (5) --seconds N (4)
 *          --connections N (32) --threads N (2) --prof DIR (B runs with --cpu-prof into DIR)
 *          --a floor (the minimal Node proxy of bench:peers instead of a checkout)
 *          --b-log-level warn (B without the request log line: what a line costs)
 *          --b-store redis (B with the Redis session store, unique key prefix: what Redis costs)
 *          --b-node-flags="FLAGS" (B started with these node flags, e.g. =--max-semi-space-size=16)
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDevIdp } from '../src/devidp/index.js';
import { TestBrowser } from '../test/helpers/browser.js';
import { freePort } from '../test/helpers/stack.js';
import { startChild, stopChild, tempDir, track, untilAnswers } from './peers/children.js';
import { runWrk } from './peers/wrk.js';

/** The upstream, in its own process: 200 with a small JSON body (the bench's usual answer). */
const UPSTREAM = `
const body = JSON.stringify({ ok: true, panel: 'cpu', values: [1, 2, 3, 4, 5, 6, 7, 8] });
const s = require('node:http').createServer((_q, res) => {
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
});
s.keepAliveTimeout = 65000;
s.listen(Number(process.argv[1]), '127.0.0.1');
`;

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: '.' },
    mode: { type: 'string', default: 'memory' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '32' },
    threads: { type: 'string', default: '2' },
    prof: { type: 'string' },
    'b-log-level': { type: 'string' },
    'b-store': { type: 'string' },
    'b-node-flags': { type: 'string' },
  },
});
if (!values.a) throw new Error('--a DIR (the baseline checkout) is required');
const wrkOpts = {
  threads: Number(values.threads),
  connections: Number(values.connections),
  seconds: Number(values.seconds),
};

const upstreamPort = await freePort();
const upstream = startChild(process.execPath, ['-e', UPSTREAM, String(upstreamPort)]);
const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
await untilAnswers(upstreamUrl, 'upstream', upstream, (s) => s === 200);
const idp = await startDevIdp({
  port: 0,
  quiet: true,
  autoLogin: 'alice',
  accessTokenTtl: 3600,
  idTokenTtl: 3600,
});

/** `--a floor`: the minimal Node proxy of bench:peers (undici Pool, no auth, no logging) instead of a checkout. */
async function floor(name: string, prof?: string) {
  const port = await freePort();
  const child = track(
    spawn(
      process.execPath,
      [
        ...(prof ? ['--cpu-prof', '--cpu-prof-dir', resolve(prof)] : []),
        '--import',
        'tsx',
        join(import.meta.dirname, 'peers/nodeProxy.ts'),
        upstreamUrl,
        String(port),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], detached: true, env: { ...process.env, NODE_OPTIONS: '' } },
    ),
  );
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(url, name, child, (s) => s === 200);
  return { name, url: `${url}/api/panel`, cookie: '', child };
}

async function gateway(name: string, checkout: string, prof?: string) {
  if (checkout === 'floor') return floor(name, prof);
  const dir = tempDir(`ab-${name}`);
  const port = await freePort();
  const file = join(dir, 'gatehouse.json');
  writeFileSync(
    file,
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      publicUrl: `http://127.0.0.1:${port}`,
      upstream: upstreamUrl,
      provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
      session: {
        secret: 'bench-ab-secret-bench-ab-secret-bench-ab-0123456789',
        // `--b-store redis` (B only): the Redis store, under a key prefix of its own.
        ...(name === 'B' && values['b-store'] === 'redis'
          ? { store: 'redis', redisKeyPrefix: `gatehouse-ab-${process.pid}:` }
          : {}),
      },
      ...(values.mode === 'bare' ? { skipAuth: ['/'] } : {}),
      // `--b-log-level warn` (B only): no request line, so B/A is what the line costs.
      logging: { level: name === 'B' ? (values['b-log-level'] ?? 'info') : 'info' },
    }),
  );
  const root = resolve(checkout);
  const args = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', resolve(prof)] : [])];
  // `--b-node-flags=--max-semi-space-size=16`: B with other V8/Node flags.
  if (name === 'B' && values['b-node-flags']) args.push(...values['b-node-flags'].split(' ').filter(Boolean));
  args.push('--import', 'tsx', join(root, 'test/redis/gatewayProcess.ts'), file);
  const child = track(
    spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit'],
      detached: true,
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}/readyz`, name, child, (s) => s === 200);
  let cookie = '';
  if (values.mode !== 'bare') {
    const b = new TestBrowser();
    await b.follow(`${url}/`);
    const c = b.cookie(url, 'gatehouse');
    if (!c) throw new Error(`${name}: login failed`);
    cookie = `gatehouse=${c}`;
  }
  return { name, url: `${url}/api/panel`, cookie, child };
}

/** CPU seconds (user + system) the process has used: robust to other load on the cores, unlike req/s. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
/** The system share of that CPU. */
function sysSeconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[12]) / 100;
}

/** read/write syscalls the process has made (epoll and others are not counted here). */
function syscalls(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/syscr: (\d+)/.exec(io)![1]) + Number(/syscw: (\d+)/.exec(io)![1]);
}

const a = await gateway('A', values.a);
const b = await gateway('B', values.b, values.prof);
const rows: Array<{ a: number; b: number; a99: number; b99: number; aus: number; bus: number }> = [];
try {
  // Warm-up (JIT, pools, caches) before anything is counted.
  for (const t of [a, b]) await runWrk(t.url, t.cookie, { ...wrkOpts, seconds: 4 });
  for (let r = 0; r < Number(values.rounds); r++) {
    // Alternate who goes first, so a trend in the background load favours neither.
    const order = r % 2 ? [b, a] : [a, b];
    const res: Record<string, { rps: number; p99: number; us: number; io: number; kus: number }> = {};
    for (const t of order) {
      const cpu0 = cpuSeconds(t.child.pid!);
      const sys0 = syscalls(t.child.pid!);
      const kernel0 = sysSeconds(t.child.pid!);
      const w = await runWrk(t.url, t.cookie, wrkOpts);
      if (w.errors) throw new Error(`${t.name}: ${w.errors} errors`);
      // The gateway's own CPU per request, in µs.
      res[t.name] = {
        ...w,
        us: ((cpuSeconds(t.child.pid!) - cpu0) * 1e6) / w.requests,
        io: (syscalls(t.child.pid!) - sys0) / w.requests,
        kus: ((sysSeconds(t.child.pid!) - kernel0) * 1e6) / w.requests,
      };
    }
    const row = {
      a: res.A!.rps,
      b: res.B!.rps,
      a99: res.A!.p99,
      b99: res.B!.p99,
      aus: res.A!.us,
      bus: res.B!.us,
    };
    rows.push(row);
    console.log(
      `round ${r + 1}: A ${row.a} req/s (p99 ${row.a99} ms, ${row.aus.toFixed(0)} µs CPU/req of which ${res.A!.kus.toFixed(0)} system, ${res.A!.io.toFixed(2)} rw syscalls/req)  ` +
        `B ${row.b} req/s (p99 ${row.b99} ms, ${row.bus.toFixed(0)} µs CPU/req of which ${res.B!.kus.toFixed(0)} system, ${res.B!.io.toFixed(2)} rw syscalls/req)  B/A ${(row.b / row.a).toFixed(2)}`,
    );
  }
} finally {
  await stopChild(a.child);
  await stopChild(b.child);
  await stopChild(upstream);
  await idp.stop();
}
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const ratios = rows.map((r) => r.b / r.a);
console.log(
  `mode ${values.mode}: A median ${med(rows.map((r) => r.a))}, B median ${med(rows.map((r) => r.b))} req/s; ` +
    `B/A median ${med(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); ` +
    `CPU µs/request A ${med(rows.map((r) => r.aus)).toFixed(1)}, B ${med(rows.map((r) => r.bus)).toFixed(1)} ` +
    `(B/A ${med(rows.map((r) => r.bus / r.aus)).toFixed(2)}, ` +
    `${Math.min(...rows.map((r) => r.bus / r.aus)).toFixed(2)}–${Math.max(...rows.map((r) => r.bus / r.aus)).toFixed(2)})`,
);
process.exit(0);
