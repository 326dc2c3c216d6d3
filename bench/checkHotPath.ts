/**
 * Micro-benchmark of the authenticated hot path: `engine.check()` for a logged-in session whose
 * record is already cached, in process (no sockets). Run: `node --import tsx bench/checkHotPath.ts
 * [iterations] [memory|redis]` (redis: REDIS_URL, default 127.0.0.1:6379, a unique key prefix).
 * Prints ns per check; compare runs before and after a change to the session path.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/load.js';
import { createGatewayCore } from '../src/core/gatewayCore.js';
import { createLogger } from '../src/util/log.js';
import { apiFacts } from './lib.js';

const iterations = Number(process.argv[2] ?? 200_000);
const storeKind = (process.argv[3] ?? 'memory') as 'memory' | 'redis';
const prefix = `ghbench:${process.pid}:${randomBytes(3).toString('hex')}:`;

const cfg = loadConfig({
  object: {
    publicUrl: 'http://127.0.0.1:4180',
    provider: { issuer: 'http://127.0.0.1:1', clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
    session: {
      secret: 'bench-secret-bench-secret-bench-secret-0123456789',
      store: storeKind,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      redisKeyPrefix: prefix,
      maxAgeSeconds: 120, // what the run leaves in Redis expires soon after
    },
    authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
  },
  env: {},
});
const core = await createGatewayCore(cfg, { logger: createLogger('silent') });
const sessions = core.engine.ctx.sessions;
const now = Date.now();
const claims = {
  sub: 'usr_alice',
  preferred_username: 'alice',
  email: 'alice@example.com',
  email_verified: true,
  groups: ['admins', 'dev', ...Array.from({ length: 20 }, (_, i) => `team-${i}`)],
};
const { cookieValue } = await sessions.create(
  {
    tokens: { accessToken: 'a'.repeat(900), refreshToken: 'r'.repeat(300), idToken: 'i'.repeat(900) },
    claims,
    accessExpiresAt: now + 3_600_000,
    accessLifetimeMs: 3_600_000,
    rotated: false,
  },
  sessions.identityFrom(claims),
);
const facts = apiFacts('/admin/x', { cookieHeader: `gatehouse=${cookieValue}` });

const first = await core.engine.check(facts);
if (first.type !== 'allow') throw new Error(`expected allow, got ${JSON.stringify(first)}`);

/** Wall time and this process's CPU time per check (CPU time is steadier on a shared machine). */
async function round(n: number): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await core.engine.check(facts);
  const wall = Number(process.hrtime.bigint() - t0) / n;
  const c = process.cpuUsage(c0);
  return { wall, cpu: ((c.user + c.system) * 1000) / n };
}

await round(Math.min(20_000, iterations)); // warm-up (JIT)
const rounds: Array<{ wall: number; cpu: number }> = [];
for (let r = 0; r < 10; r++) rounds.push(await round(Math.ceil(iterations / 10)));
const sorted = (k: 'wall' | 'cpu') => rounds.map((x) => x[k]).sort((a, b) => a - b);
const [wall, cpu] = [sorted('wall'), sorted('cpu')];
console.log(
  `engine.check (${storeKind} store, cached session, ${iterations} iterations): wall median ${wall[5]!.toFixed(0)} / best ${wall[0]!.toFixed(0)} ns/op, cpu median ${cpu[5]!.toFixed(0)} / best ${cpu[0]!.toFixed(0)} ns/op`,
);

// What a record costs when it is not cached (an L1 miss: a Redis read parses a new object): one
// MAC check over the record JSON. Measured on this session's own record, as the store holds it.
const key = sessions.codec.open(cookieValue)!;
const stored = await core.store.get(key);
if (stored?.mac) {
  const { RecordMac } = await import('../src/session/recordMac.js');
  const mac = new RecordMac([cfg.session.secret]);
  const json = JSON.stringify(stored);
  const parsed = JSON.parse(json);
  const time = (fn: () => unknown, n = 20_000) => {
    for (let i = 0; i < 1000; i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t0) / n / 1000;
  };
  const parse = time(() => JSON.parse(json));
  const verify = time(() => {
    if (mac.verify(key, parsed)) throw new Error('does not verify');
  });
  console.log(
    `uncached read (${json.length} bytes of record JSON): JSON.parse ${parse.toFixed(1)} µs (the store's, as before) + MAC verify ${verify.toFixed(1)} µs (new)`,
  );
}
await core.store.delete(key);
await core.close(1000);
