import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DevIdp, startDevIdp } from '../../src/devidp/index.js';
import { TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/stack.js';
import { type EchoUpstream, startEchoUpstream } from '../helpers/upstream.js';
import {
  countBy,
  type GatewayProcess,
  loginAcross,
  type RedisServer,
  spawnReplicas,
  startRedisServer,
  uniquePrefix,
} from './helpers.js';

interface Sample {
  /** before → stopping (SIGTERM sent) → down (exited) → restarting → after (both connections back). */
  phase: 'before' | 'stopping' | 'down' | 'restarting' | 'after';
  kind: 'api' | 'navigate';
  status: number;
  type: string;
  body: string;
}

/**
 * A dedicated redis-server (AOF on) is stopped and started again on the same port while two
 * replicas serve traffic. The shared Redis of the other tests is never touched.
 */
describe('Redis stopped and started during traffic', () => {
  let server: RedisServer;
  let idp: DevIdp;
  let upstream: EchoUpstream;
  let replicas: GatewayProcess[] = [];

  before(async () => {
    server = await startRedisServer(await freePort());
    idp = await startDevIdp({ port: 0, quiet: true, autoLogin: 'alice' });
    upstream = await startEchoUpstream();
    replicas = await spawnReplicas({
      name: 'outage',
      ports: [await freePort(), await freePort()],
      issuer: idp.issuer,
      upstream: upstream.url,
      redisUrl: server.url,
      prefix: uniquePrefix('outage'),
    });
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.kill('SIGKILL')));
    await upstream?.close();
    await idp?.stop();
    await server?.destroy();
  });

  it('503 (page or JSON) while down, /readyz 503, no crash; sessions intact when Redis is back', async (t) => {
    const b = new TestBrowser();
    const urls = replicas.map((r) => r.url);
    await loginAcross(b, urls);

    // Steady traffic on both replicas, one request at a time each, until told to stop.
    let phase: Sample['phase'] = 'before';
    const samples: Sample[] = [];
    let stop = false;
    let warm: () => void = () => undefined;
    const warmedUp = new Promise<void>((r) => {
      warm = r;
    });
    let first503: () => void = () => undefined;
    const saw503 = new Promise<void>((r) => {
      first503 = r;
    });
    const loop = async (url: string) => {
      for (let i = 0; !stop; i++) {
        const kind = i % 2 ? 'api' : 'navigate';
        const startedIn = phase; // a sample belongs to the phase its request started in
        const r = await b.request(`${url}/traffic/${i}`, { kind });
        samples.push({
          phase: startedIn,
          kind,
          status: r.status,
          type: String(r.headers['content-type']),
          body: r.body.slice(0, 2000),
        });
        if (r.status === 503) first503();
        if (samples.length >= 6) warm();
      }
    };
    const traffic = Promise.all(urls.map(loop));

    // Let traffic flow first: wait until both replicas have answered a few requests with Redis up.
    await warmedUp;

    phase = 'stopping';
    await server.stop(); // SIGTERM: Redis writes the AOF and exits
    phase = 'down';
    await saw503;
    // One replica's first 503 can come before the other's client has seen the connection drop:
    // each replica's /readyz must turn 503 within a bound, not at this very instant.
    for (const r of replicas) {
      const deadline = performance.now() + 5000;
      let ready = await b.request(`${r.url}/readyz`, { kind: 'api' });
      while (ready.status !== 503 && performance.now() < deadline) {
        ready = await b.request(`${r.url}/readyz`, { kind: 'api' });
      }
      assert.equal(ready.status, 503, `${r.name} /readyz while Redis is down`);
      assert.match(ready.body, /session store/);
    }
    const apiDown = await b.request(`${urls[0]}/api/x`, { kind: 'api' });
    assert.equal(apiDown.status, 503);
    assert.match(String(apiDown.headers['content-type']), /application\/json/);
    assert.equal(apiDown.json().error, 'store_unavailable');
    assert.ok(Number(apiDown.headers['retry-after']) >= 1, 'Retry-After tells clients when to come back');
    const pageDown = await b.request(`${urls[1]}/page`, { kind: 'navigate' });
    assert.equal(pageDown.status, 503);
    assert.match(String(pageDown.headers['content-type']), /text\/html/);
    assert.match(pageDown.body, /session store is unavailable/i);

    // Back on the same port with the same data directory.
    // Each replica logs both of its connections coming back (commands, then or before the subscriber).
    const reconnected = replicas.flatMap((r) =>
      ['session store (redis) connected', 'session store (redis) invalidation channel subscribed'].map(
        (msg) => {
          const n = r.logs.filter((e) => e.msg === msg).length;
          let seen = 0;
          return r.waitForLog((e) => e.msg === msg && ++seen > n, `"${msg}" again`, 15_000);
        },
      ),
    );
    phase = 'restarting';
    await server.restart();
    await Promise.all(reconnected);
    phase = 'after';
    for (const r of replicas)
      assert.equal(
        (await b.request(`${r.url}/readyz`, { kind: 'api' })).status,
        200,
        `${r.name} ready again`,
      );
    for (const u of urls)
      assert.equal((await b.request(`${u}/back`, { kind: 'api' })).status, 200, 'the session survived');
    stop = true;
    await traffic;

    for (const r of replicas) assert.ok(r.alive(), `${r.name} did not crash`);
    // Never a logout (401/302) nor a 500: 200 with Redis up, 503 while it is down.
    const counts = (p: Sample['phase']) => countBy(samples.filter((s) => s.phase === p).map((s) => s.status));
    const seen = {
      before: counts('before'),
      stopping: counts('stopping'),
      down: counts('down'),
      restarting: counts('restarting'),
      after: counts('after'),
    };
    t.diagnostic(`responses by phase: ${JSON.stringify(seen)}`);
    const all = new Set(samples.map((s) => s.status));
    assert.deepEqual(
      [...all].filter((s) => s !== 200 && s !== 503),
      [],
      `only 200 and 503: ${JSON.stringify(seen)}`,
    );
    assert.ok((seen.before[200] ?? 0) > 0, `before: ${JSON.stringify(seen)}`);
    assert.deepEqual(Object.keys(seen.before), ['200'], `before: all 200: ${JSON.stringify(seen)}`);
    assert.ok((seen.down[503] ?? 0) > 0, `down: ${JSON.stringify(seen)}`);
    assert.deepEqual(
      Object.keys(seen.down),
      ['503'],
      `while Redis is gone: only 503: ${JSON.stringify(seen)}`,
    );
    assert.deepEqual(Object.keys(seen.after), ['200'], `after: all 200: ${JSON.stringify(seen)}`);
    for (const s of samples.filter((x) => x.status === 503)) {
      if (s.kind === 'api') assert.match(s.type, /application\/json/);
      else assert.match(s.type, /text\/html/);
    }
    for (const r of replicas) {
      assert.equal(r.stderr.join('').includes('Error'), false, `${r.name} stderr: ${r.stderr.join('')}`);
    }
  });
});
