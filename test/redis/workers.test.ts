import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import type { WebSocket } from 'ws';
import type { DevIdp } from '../../src/devidp/index.js';
import { usableCpus } from '../../src/util/cpuQuota.js';
import { TestBrowser } from '../helpers/browser.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestIdp } from '../helpers/devIdp.js';
import { freePort } from '../helpers/ports.js';
import { until } from '../helpers/until.js';
import { closedBy, connect, startWsUpstream } from '../helpers/websocket.js';
import {
  countBy,
  dropPrefix,
  loginAcross,
  REDIS_URL,
  requireRedis,
  TEST_SECRET,
  uniquePrefix,
} from './helpers.js';

type Entry = Record<string, unknown>;
const ACCESS_TTL_S = 3;

/**
 * `gatehouse serve` with `server.workers: 2`: one primary, two worker processes on one listen
 * socket, one Redis. What replicas guarantee must hold across workers too: one refresh grant for a
 * herd, logout everywhere, a clean drain on SIGTERM; and the primary sums the workers' metrics.
 */
describe('server.workers: 2 (gatehouse serve, real processes)', () => {
  const prefix = uniquePrefix('workers');
  const dir = mkdtempSync(join(tmpdir(), 'gh-workers-'));
  const file = join(dir, 'gatehouse.yaml');
  let redis: Redis;
  let idp: DevIdp;
  let upstream: Awaited<ReturnType<typeof startWsUpstream>>;
  let child: ChildProcessWithoutNullStreams;
  let url = '';
  let metricsUrl = '';
  let stderr = '';
  const logs: Entry[] = [];
  const browser = new TestBrowser();
  let loggedInAt = 0;
  let config: Record<string, unknown> = {};

  const write = (extra: Record<string, unknown> = {}) =>
    writeFileSync(file, JSON.stringify({ ...config, ...extra }));
  /** The worker (1 or 2) that served the request with id `reqId`, from its request log line. */
  const servedBy = (reqId: string) => logs.find((e) => e.msg === 'request' && e.reqId === reqId)?.worker;
  /** The same, once its line has arrived (lines are written when the response finishes). */
  const workerOf = async (reqId: string) => {
    await until(() => servedBy(reqId) !== undefined, `the log line of request ${reqId}`);
    return servedBy(reqId);
  };
  const logged = (pred: (e: Entry) => boolean, what: string, ms = 20_000) =>
    until(() => logs.some(pred), `${what}: ${stderr.slice(-1500)}`, ms);

  before(async () => {
    redis = await requireRedis();
    idp = await startTestIdp({ profiles: ['short-expiry'], accessTokenTtl: ACCESS_TTL_S });
    // Answers HTTP with 200 and tunnels WebSockets (echo).
    upstream = await startWsUpstream();
    const port = await freePort();
    const metricsPort = await freePort();
    url = `http://127.0.0.1:${port}`;
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    config = {
      listen: `127.0.0.1:${port}`,
      publicUrl: url,
      upstream: upstream.url,
      server: { workers: 2 },
      metrics: { listen: `127.0.0.1:${metricsPort}` },
      provider: { issuer: idp.issuer, clientId: 'gatehouse', clientSecret: 'gatehouse-dev-secret' },
      session: {
        secret: TEST_SECRET,
        store: 'redis',
        redisUrl: REDIS_URL,
        redisKeyPrefix: prefix,
        // No periodic re-check: only the store's pub/sub can close a socket when the session ends.
        websocketRecheckSeconds: 0,
      },
      refresh: { graceSeconds: 0 },
      logging: { level: 'info' },
    };
    write();
    child = spawnCli(['serve', '--config', file]);
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          logs.push(JSON.parse(line) as Entry);
        } catch {
          logs.push({ msg: line });
        }
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await upstream?.close();
    await idp?.stop();
    if (redis) {
      await dropPrefix(redis, prefix);
      redis.disconnect();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts two workers, announced once; every log line names its worker', async () => {
    await until(() => stderr.includes('gatehouse listening on'), `listening: ${stderr}`, 30_000);
    const discovered = () =>
      new Set(logs.filter((e) => e.msg === 'OIDC provider discovered').map((e) => e.worker));
    await until(() => discovered().size === 2, `both workers to discover the IdP: ${stderr}`, 30_000);
    assert.deepEqual([...discovered()].sort(), [1, 2]);
    assert.equal(stderr.match(/gatehouse listening on/g)?.length, 1, 'one line for the whole gateway');
    assert.match(stderr, new RegExp(`gatehouse listening on ${url} .*— 2 workers`));
    const unnamed = logs.filter((e) => typeof e.worker !== 'number');
    assert.deepEqual(unnamed, [], 'no log line without a worker id (0 = the primary)');
    assert.ok(logs.some((e) => e.worker === 0 && e.msg === 'starting 2 workers'));
  });

  it('after expiry, 200 concurrent requests over both workers → exactly one refresh grant, all 200', async (t) => {
    await loginAcross(browser, [url]);
    loggedInAt = performance.now();
    const wait = ACCESS_TTL_S * 1000 + 250 - (performance.now() - loggedInAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // token expiry: a clock, no event
    idp.reset();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        browser.request(`${url}/herd/${i}`, {
          kind: i % 2 ? 'api' : 'navigate',
          headers: { 'x-request-id': `herd-${i}` },
        }),
      ),
    );
    const counts = countBy(results.map((r) => r.status));
    assert.deepEqual(counts, { 200: 200 });
    const stats = idp.stats();
    assert.equal(stats.grants.refresh_token, 1, 'exactly one refresh grant across the two workers');
    assert.equal(stats.errors.invalid_grant ?? 0, 0, 'no invalid_grant');
    await until(
      () => Array.from({ length: 200 }, (_, i) => servedBy(`herd-${i}`)).every((w) => w !== undefined),
      'request log lines',
    );
    const byWorker = countBy(Array.from({ length: 200 }, (_, i) => servedBy(`herd-${i}`) as number));
    t.diagnostic(`herd requests per worker: ${JSON.stringify(byWorker)}`);
    assert.deepEqual(Object.keys(byWorker).sort(), ['1', '2'], 'both workers served the herd');
    assert.equal(logs.filter((e) => e.msg === 'OIDC token renewed').length, 1, 'one worker renewed');
  });

  it('metrics.listen serves the sum of both workers’ counts', async () => {
    const res = await request(metricsUrl);
    assert.equal(res.statusCode, 200);
    const text = await res.body.text();
    const total = [...text.matchAll(/^gatehouse_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    const lines = logs.filter((e) => e.msg === 'request');
    const perWorker = countBy(lines.map((e) => e.worker as number));
    assert.ok(perWorker[1]! > 0 && perWorker[2]! > 0, JSON.stringify(perWorker));
    assert.equal(
      total,
      lines.length,
      `the sum over the workers (${JSON.stringify(perWorker)}), not one worker's`,
    );
    assert.match(text, /^gatehouse_workers 2$/m, 'the primary’s own gauge');
  });

  it('SIGHUP to the primary reloads every worker', async () => {
    write({ skipAuth: ['/status'] });
    const before = logs.length;
    child.kill('SIGHUP');
    const reloaded = () =>
      new Set(
        logs
          .slice(before)
          .filter((e) => String(e.msg).startsWith('configuration reloaded: applied skipAuth'))
          .map((e) => e.worker),
      );
    await until(() => reloaded().size === 2, `both workers to reload: ${stderr.slice(-1000)}`);
    for (let i = 0; i < 4; i++) {
      const agent = new Agent({ connections: 1 }); // a connection of its own: handed to the next worker
      const r = await request(`${url}/status`, { dispatcher: agent });
      await r.body.dump();
      await agent.close();
      assert.equal(r.statusCode, 200, 'skipAuth applied on whichever worker answers');
    }
  });

  it('a worker that dies is restarted (logged), and the gateway keeps answering', async () => {
    const started = logs.find(
      (e) => e.worker === 0 && e.slot === 2 && String(e.msg).startsWith('worker 2 listening'),
    );
    assert.ok(started, 'the primary logged worker 2 with its pid');
    const pid = started.pid as number;
    const before = logs.length;
    process.kill(pid, 'SIGKILL');
    await logged(
      (e) =>
        e.worker === 0 &&
        e.slot === 2 &&
        e.signal === 'SIGKILL' &&
        String(e.msg).includes('died unexpectedly'),
      'the death logged',
    );
    await logged(
      (e) => logs.indexOf(e) >= before && e.msg === 'OIDC provider discovered' && e.worker === 2,
      'worker 2 back',
    );
    await logged(
      (e) => logs.indexOf(e) >= before && e.worker === 0 && String(e.msg).startsWith('worker 2 listening'),
      'worker 2 listening again',
    );
    const again = logs.findLast((e) => e.worker === 0 && String(e.msg).startsWith('worker 2 listening'));
    assert.notEqual(again!.pid, pid, 'a new process');
    assert.equal((await browser.request(`${url}/after-restart`, { kind: 'api' })).status, 200);
  });

  it('logout through one worker ends the session on the other, and closes its WebSocket', async () => {
    // One connection each, until one is served by worker 1 and one by worker 2 (connections are
    // handed to the workers in turn).
    const onWorker = new Map<unknown, Agent>();
    for (let i = 0; i < 40 && onWorker.size < 2; i++) {
      const agent = new Agent({ connections: 1 });
      const id = `probe-${i}`;
      const r = await new TestBrowser(agent).request(`${url}/status`, {
        kind: 'api',
        headers: { 'x-request-id': id },
      });
      assert.equal(r.status, 200);
      const w = await workerOf(id);
      if (onWorker.has(w)) await agent.close();
      else onWorker.set(w, agent);
    }
    assert.equal(onWorker.size, 2, 'a connection to each worker');
    const via = (w: number) => {
      const b = new TestBrowser(onWorker.get(w)!);
      b.cookies(new URL(url).host).set('gatehouse', browser.cookie(url, 'gatehouse')!);
      return b;
    };
    assert.equal(
      (await via(2).request(`${url}/me`, { kind: 'api', headers: { 'x-request-id': 'me-2' } })).status,
      200,
    );
    // A WebSocket on worker 2 (new connections go to the workers in turn).
    const cookie = `gatehouse=${browser.cookie(url, 'gatehouse')}`;
    let socket: WebSocket | undefined;
    for (let i = 0; i < 20 && !socket; i++) {
      const r = await connect(`${url.replace('http:', 'ws:')}/live`, { cookie, 'x-request-id': `ws-${i}` });
      assert.ok(r.ws, `upgrade refused: ${r.status} ${r.body}`);
      if ((await workerOf(`ws-${i}`)) === 2) socket = r.ws;
      else r.ws.close();
    }
    assert.ok(socket, 'a WebSocket on worker 2');
    socket.send('ping');
    assert.equal(String((await once(socket, 'message'))[0]), 'echo:ping');
    const out = await via(1).request(`${url}/oauth2/logout`, {
      method: 'POST',
      headers: { 'x-request-id': 'logout-1' },
    });
    assert.ok(out.status < 400, `logout answered ${out.status}`);
    assert.equal(await workerOf('logout-1'), 1);
    await closedBy(socket, 'logout on worker 1, the socket is on worker 2');
    const afterLogout = await via(2).request(`${url}/me`, {
      kind: 'api',
      headers: { 'x-request-id': 'me-2-after' },
    });
    assert.equal(afterLogout.status, 401, 'the other worker knows the session is gone');
    assert.equal(await workerOf('me-2-after'), 2);
    for (const a of onWorker.values()) await a.close();
  });

  it('SIGTERM: every worker drains, the primary exits 0', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, null);
    assert.equal(code, 0, stderr.slice(-1500));
    assert.match(stderr, /SIGTERM: draining 2 workers/);
    const errors = logs.filter(
      (e) => (e.level as number) >= 50 && !String(e.msg).includes('died unexpectedly'),
    );
    assert.deepEqual(errors, [], 'no error logged while draining');
  });
});

describe('server.workers with the memory store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-workers-mem-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = (workers: unknown) => {
    const file = join(dir, `w-${String(workers)}.yaml`);
    writeFileSync(
      file,
      JSON.stringify({
        publicUrl: 'http://127.0.0.1:4180',
        provider: {
          issuer: 'http://127.0.0.1:9',
          clientId: 'gatehouse',
          clientSecret: 'gatehouse-dev-secret',
        },
        session: { secret: TEST_SECRET },
        server: { workers },
      }),
    );
    return file;
  };

  it('workers: 2 → exit 78 naming the key, why, and the fix; nothing starts', async () => {
    const r = await runCli(['serve', '--config', cfg(2)]);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /server\.workers: 2 needs session\.store: redis/);
    assert.match(r.stderr, /each worker process would keep its own sessions/);
    assert.match(r.stderr, /set session\.store: redis .*or server\.workers: 1/);
    assert.doesNotMatch(r.stderr, /listening/);
  });

  it('workers: auto → the same, when this machine has more than one CPU to use', async (t) => {
    const cpus = usableCpus();
    if (cpus === 1) {
      t.diagnostic('one usable CPU here: auto means one process, which the memory store allows');
      return;
    }
    const r = await runCli(['serve', '--config', cfg('auto')]);
    assert.equal(r.code, 78, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`server\\.workers: auto \\(${cpus} CPUs here\\) needs session\\.store: redis`),
    );
  });
});
