import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/util/log.js';
import { runCli } from '../helpers/cli.js';
import { useTestIdp } from '../helpers/devIdp.js';
import { freePort } from '../helpers/ports.js';
import { REDIS_URL, type RedisServer, requireRedis, startRedisServer } from '../redis/helpers.js';

const CLIENT_SECRET = `doctor-client-${randomBytes(12).toString('hex')}`;
const SESSION_SECRET = randomBytes(48).toString('base64');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  lines: string[];
}

/** Runs the real CLI (`gatehouse doctor …`) as a child process, with no GATEHOUSE_* env of ours. */
async function doctor(args: string[]): Promise<Run> {
  const r = await runCli(['doctor', ...args]);
  return { ...r, lines: r.stdout.split('\n').filter(Boolean) };
}

/** The line of one check (the first, when a check has several). */
function lineOf(r: Run, check: string): string {
  const line = r.lines.find((l) => new RegExp(`^(PASS|WARN|FAIL) ${check.replace(/\./g, '\\.')}: `).test(l));
  assert.ok(line, `no ${check} line in:\n${r.stdout}\n${r.stderr}`);
  return line;
}

describe('gatehouse doctor', () => {
  const idp = useTestIdp({ clientSecret: CLIENT_SECRET });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-'));
  let n = 0;

  function configFile(
    over: {
      provider?: Record<string, unknown>;
      session?: Record<string, unknown>;
      [k: string]: unknown;
    } = {},
  ) {
    const { provider, session, ...rest } = over;
    const file = join(dir, `config-${++n}.yaml`);
    writeFileSync(
      file,
      stringify({
        publicUrl: 'http://127.0.0.1:4180',
        upstream: 'http://127.0.0.1:9',
        shutdownTimeoutSeconds: 30,
        provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: CLIENT_SECRET, ...provider },
        session: { secret: SESSION_SECRET, store: 'redis', redisUrl: REDIS_URL, ...session },
        authorization: { allowedEmailDomains: ['example.com'] },
        ...rest,
      }),
    );
    return file;
  }

  before(async () => {
    (await requireRedis()).disconnect();
  });

  it('a good configuration against the dev IdP and Redis: PASS lines, exit 0, no secret printed', async () => {
    idp.setProfiles([]);
    const r = await doctor(['--config', configFile()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const check of [
      'config.valid',
      'config.session.secret',
      'config.refresh.lockLeaseSeconds',
      'provider.discovery',
      'provider.issuer',
      'provider.jwks',
      'provider.clock',
      'provider.end-session',
      'refresh.grant-type',
      'refresh.offline-access',
      'store.redis',
      'store.latency',
      'store.maxmemory-policy',
    ]) {
      assert.match(lineOf(r, check), /^PASS /, check);
    }
    assert.match(lineOf(r, 'refresh.request'), /scope="openid email profile offline_access"/);
    assert.match(lineOf(r, 'store.latency'), /p50 [\d.]+ ms, p99 [\d.]+ ms over 100 PINGs/);
    assert.doesNotMatch(r.stdout, /FAIL /);
    assert.ok(
      !r.stdout.includes(CLIENT_SECRET) && !r.stdout.includes(SESSION_SECRET),
      'no secret in the report',
    );
    for (const l of r.lines.filter((x) => x.startsWith('PASS '))) assert.doesNotMatch(l, /— fix:/);
  });

  it('--json prints one document with every check and the summary', async () => {
    idp.setProfiles([]);
    const r = await doctor(['--config', configFile(), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      checks: Array<{ status: string; check: string; finding: string; fix: string | null }>;
      summary: { pass: number; warn: number; fail: number };
    };
    assert.ok(doc.checks.length > 15);
    for (const c of doc.checks) {
      assert.match(c.status, /^(PASS|WARN|FAIL)$/);
      assert.equal(typeof c.finding, 'string');
      if (c.status === 'PASS') assert.equal(c.fix, null);
      else assert.ok(c.fix, `${c.check} has a fix`);
    }
    assert.equal(doc.summary.pass, doc.checks.filter((c) => c.status === 'PASS').length);
    assert.equal(doc.summary.fail, 0);
    assert.ok(doc.checks.some((c) => c.check === 'provider.jwks' && c.status === 'PASS'));
  });

  it('discovery-down: FAIL provider.discovery at once, exit 1, no retry loop', async () => {
    idp.setProfiles(['discovery-down']);
    try {
      const r = await doctor(['--config', configFile({ provider: { timeoutSeconds: 5 } })]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        lineOf(r, 'provider.discovery'),
        /^FAIL provider\.discovery: .*answered HTTP 503.* — fix: check provider\.issuer/,
      );
      assert.match(lineOf(r, 'refresh.readiness'), /^WARN .*not checked/);
      assert.match(lineOf(r, 'store.redis'), /^PASS /, 'the other groups still run');
    } finally {
      idp.setProfiles([]);
    }
  });

  describe('a provider that accepts connections and never answers', () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    before(async () => {
      silent = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      silent.close();
    });

    it('FAILs provider.discovery within provider.timeoutSeconds', async () => {
      const port = (silent.address() as { port: number }).port;
      const r = await doctor([
        '--config',
        configFile({
          provider: { issuer: `http://127.0.0.1:${port}`, timeoutSeconds: 2 },
          refresh: { lockLeaseSeconds: 10 },
        }),
      ]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        lineOf(r, 'provider.discovery'),
        /^FAIL .*no answer within provider\.timeoutSeconds \(2 s\)/,
      );
      // 2 s for discovery plus the CLI's start-up and the Redis checks; a retry loop would never end.
      assert.ok(r.ms < 15_000, `took ${r.ms} ms`);
    });
  });

  it('the google profile without the google preset: FAIL refresh readiness naming access_type=offline; the preset fixes it', async () => {
    idp.setProfiles(['google']);
    try {
      const generic = await doctor(['--config', configFile()]);
      assert.equal(generic.code, 1, generic.stdout);
      const line = lineOf(generic, 'refresh.offline-access');
      assert.match(line, /^FAIL refresh\.offline-access: Gatehouse asks for no refresh token/);
      assert.match(line, /access_type=offline/);
      assert.match(line, /— fix: .*provider\.preset: google/);
      assert.match(
        lineOf(generic, 'refresh.request'),
        /scope="openid email profile" and no extra parameters/,
      );

      const google = await doctor(['--config', configFile({ provider: { preset: 'google' } })]);
      assert.equal(google.code, 0, google.stdout);
      assert.match(lineOf(google, 'refresh.request'), /access_type=offline prompt=consent/);
      assert.match(
        lineOf(google, 'refresh.offline-access'),
        /^PASS .*access_type=offline with prompt=consent/,
      );
    } finally {
      idp.setProfiles([]);
    }
  });

  it('an issuer spelled otherwise than the provider names itself, and an ID token algorithm it does not offer: FAIL, naming the fix', async () => {
    idp.setProfiles([]);
    const other = idp.issuer.replace('127.0.0.1', 'localhost');
    const r = await doctor(['--config', configFile({ provider: { issuer: other } })]);
    assert.equal(r.code, 1, r.stdout);
    const line = lineOf(r, 'provider.issuer');
    assert.match(
      line,
      /^FAIL provider\.issuer: the discovery document names issuer http:\/\/127\.0\.0\.1:\d+, not http:\/\/localhost/,
    );
    assert.ok(line.includes(`— fix: set provider.issuer to exactly ${idp.issuer}`), line);

    const alg = await doctor(['--config', configFile({ provider: { idTokenSigningAlgs: ['PS256'] } })]);
    assert.equal(alg.code, 1, alg.stdout);
    assert.match(
      lineOf(alg, 'provider.id-token-alg'),
      /^FAIL .*none of provider\.idTokenSigningAlgs \(PS256\).* — fix: set provider\.idTokenSigningAlgs/,
    );
  });

  describe('a Redis with maxmemory-policy allkeys-lru (a redis-server of its own: the shared one is left alone)', () => {
    let redis: RedisServer;
    before(async () => {
      redis = await startRedisServer(await freePort());
      const r = await requireRedis(redis.url);
      await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
      r.disconnect();
    });
    after(() => redis?.destroy());

    it('WARNs store.maxmemory-policy, explaining that live sessions can be evicted; exit 0', async () => {
      idp.setProfiles([]);
      const r = await doctor(['--config', configFile({ session: { redisUrl: redis.url } })]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const line = lineOf(r, 'store.maxmemory-policy');
      assert.match(line, /^WARN store\.maxmemory-policy: allkeys-lru .*has a TTL.*evict live sessions/);
      assert.match(line, /— fix: CONFIG SET maxmemory-policy noeviction/);
      assert.match(lineOf(r, 'store.persistence'), /^PASS .*AOF on/);
    });
  });

  describe('a Redis replica (read-only) as session.redisUrl', () => {
    let primary: RedisServer;
    let replica: RedisServer;
    before(async () => {
      primary = await startRedisServer(await freePort());
      replica = await startRedisServer(await freePort());
      const r = await requireRedis(replica.url);
      await r.call('REPLICAOF', '127.0.0.1', String(primary.port));
      r.disconnect();
    });
    after(async () => {
      await replica?.destroy();
      await primary?.destroy();
    });

    it('FAILs store.redis: every session write would fail', async () => {
      idp.setProfiles([]);
      const r = await doctor(['--config', configFile({ session: { redisUrl: replica.url } })]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(
        lineOf(r, 'store.redis'),
        /^FAIL store\.redis: .*read-only replica.* — fix: point session\.redisUrl at the primary/,
      );
    });
  });

  it('an unreachable Redis: FAIL store.redis, bounded', async () => {
    idp.setProfiles([]);
    const port = await freePort();
    const r = await doctor(['--config', configFile({ session: { redisUrl: `redis://127.0.0.1:${port}` } })]);
    assert.equal(r.code, 1);
    assert.match(
      lineOf(r, 'store.redis'),
      /^FAIL store\.redis: redis:\/\/127\.0\.0\.1:\d+\/0 is not reachable/,
    );
  });

  it('an invalid configuration: exit 78 naming the key (and with --json, the problems as FAIL checks)', async () => {
    const file = configFile({ session: { secret: 'short' }, refresh: { lockLeaseSeconds: 5 } });
    const r = await doctor(['--config', file]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /session\.secret: must be at least 32 characters/);
    const j = await doctor(['--config', file, '--json']);
    assert.equal(j.code, 78);
    const doc = JSON.parse(j.stdout) as { checks: Array<{ status: string; finding: string }> };
    assert.ok(doc.checks.every((c) => c.status === 'FAIL'));
    assert.ok(doc.checks.some((c) => /session\.secret/.test(c.finding)));
  });

  it('a documented example secret and a short shutdown timeout are WARN, not FAIL', async () => {
    idp.setProfiles([]);
    const r = await doctor([
      '--config',
      configFile({
        session: { secret: 'test-secret-test-secret-test-secret-0123456789' },
        shutdownTimeoutSeconds: 10,
      }),
    ]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(lineOf(r, 'config.session.secret'), /^WARN .*example printed in Gatehouse's docs/);
    assert.match(
      lineOf(r, 'config.shutdownTimeoutSeconds'),
      /^WARN .*10 s is below provider\.timeoutSeconds \(30 s\)/,
    );
    assert.ok(!r.stdout.includes('test-secret-test-secret'), 'the secret itself is not printed');
  });

  describe('a running gateway (--url)', () => {
    let close: (() => Promise<void>) | undefined;
    let url = '';
    let file = '';
    before(async () => {
      const port = await freePort();
      file = configFile({
        listen: `127.0.0.1:${port}`,
        publicUrl: `http://127.0.0.1:${port}`,
        metrics: { listen: `127.0.0.1:${await freePort()}` },
      });
      const gw = await createGateway(loadConfig({ file, env: {} }), { logger: createLogger('silent') });
      url = await gw.listen();
      close = () => gw.close();
    });
    after(() => close?.());

    it('PASSes /readyz and the metrics listener', async () => {
      idp.setProfiles([]);
      const r = await doctor(['--config', file, '--url', url]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(lineOf(r, 'gateway.readyz'), /^PASS gateway\.readyz: .*\/readyz answered 200/);
      assert.match(
        lineOf(r, 'gateway.metrics'),
        /^PASS gateway\.metrics: .*\/metrics serves Gatehouse metrics/,
      );
    });

    it('FAILs /readyz at an address where no gateway listens', async () => {
      const r = await doctor(['--config', file, '--url', `http://127.0.0.1:${await freePort()}`]);
      assert.equal(r.code, 1);
      assert.match(lineOf(r, 'gateway.readyz'), /^FAIL /);
    });
  });
});
