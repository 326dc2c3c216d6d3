/**
 * Micro-benchmark: `engine.check()` for a repeated bearer JWT (served from the verified-token
 * cache) next to a cached cookie session, on one core, in process (no sockets). The target
 * (issue 12): a cached JWT verification costs no more than a session lookup.
 * Run: `node --import tsx bench/checkBearerHotPath.ts [iterations]`.
 */
import { loadConfig } from '../src/config/load.js';
import { createGatewayCore } from '../src/core/gatewayCore.js';
import { startDevIdp } from '../src/devidp/index.js';
import type { RequestFacts } from '../src/engine/facts.js';
import { createLogger } from '../src/util/log.js';
import { relyingParty, login as rpLogin } from '../test/devidp/helpers.js';
import { apiFacts } from './lib.js';

const iterations = Number(process.argv[2] ?? 200_000);
const idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice', accessTokenTtl: 3600 });
const cfg = loadConfig({
  object: {
    publicUrl: 'http://127.0.0.1:4180',
    provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
    session: { secret: 'bench-secret-bench-secret-bench-secret-0123456789' },
    bearer: { accept: ['jwt'], audiences: ['gatehouse-api'] },
    authorization: { rules: [{ pathPrefix: '/admin', allowedGroups: ['admins'] }] },
  },
  env: {},
});
const core = await createGatewayCore(cfg, { logger: createLogger('silent') });
await core.discovered;
const sessions = core.engine.ctx.sessions;
const tokens = await rpLogin(await relyingParty(idp), { login_hint: 'alice' });
const claims = { sub: 'usr_alice', preferred_username: 'alice', groups: ['admins', 'dev'] };
const { cookieValue } = await sessions.create(
  {
    tokens: { accessToken: tokens.access_token, refreshToken: 'r'.repeat(300), idToken: 'i'.repeat(900) },
    claims,
    accessExpiresAt: Date.now() + 3_600_000,
    accessLifetimeMs: 3_600_000,
    rotated: false,
  },
  sessions.identityFrom(claims),
);
const base = apiFacts('/api/x');
const cases: Record<string, RequestFacts> = {
  'cookie session (memory store, cached)': { ...base, cookieHeader: `gatehouse=${cookieValue}` },
  'bearer JWT (verified-token cache)': { ...base, authorization: `Bearer ${tokens.access_token}` },
};
for (const [name, f] of Object.entries(cases)) {
  const d = await core.engine.check(f);
  if (d.type !== 'allow') throw new Error(`${name}: expected allow, got ${JSON.stringify(d)}`);
}

async function round(f: RequestFacts, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await core.engine.check(f);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}
const results: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const f of Object.values(cases)) await round(f, Math.min(20_000, iterations)); // warm-up (JIT)
// Interleaved rounds, so background noise hits both alike; CPU time per check, median of 10.
for (let r = 0; r < 10; r++) {
  for (const [name, f] of Object.entries(cases)) {
    results[name]!.push(await round(f, Math.ceil(iterations / 10)));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [session, jwt] = Object.values(results).map(median) as [number, number];
for (const [name, xs] of Object.entries(results))
  console.log(`${name}: ${median(xs).toFixed(0)} ns/check (cpu)`);
console.log(`bearer JWT / session: ${((jwt / session) * 100).toFixed(0)} %`);
await core.close(1000);
await idp.stop();
