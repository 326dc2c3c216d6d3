import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { BrowserCrowdWatch } from '../../src/engine/loginLimits.js';
import {
  ClientAddressResolver,
  clientAddressOf,
  useClientAddressResolver,
} from '../../src/http/clientAddress.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { rateLimitSubject } from '../../src/util/ipAddress.js';
import { createLogger } from '../../src/util/log.js';
import { jsonLogSink } from '../helpers/logSink.js';

function flow(browserId: string, n: number) {
  return { browserId, codeVerifier: `v${n}`, nonce: `n${n}`, returnTo: `/p${n}`, createdAt: n };
}

describe('memory store: flow cap, browser binding, rate counters', () => {
  test('beyond maxFlows the oldest pending flow goes first, across browsers', async () => {
    const store = new MemoryStore({ maxSessions: 10, maxFlows: 3, clock: new ManualClock() });
    for (let i = 1; i <= 5; i++) await store.putFlow(`s${i}`, flow(`b${i}`, i), 60_000, 10);
    assert.deepEqual(store.pendingFlows, { flows: 3, browsers: 3 });
    assert.deepEqual(await store.takeFlow('s1', 'b1'), { ok: false, reason: 'unknown' });
    assert.deepEqual(await store.takeFlow('s2', 'b2'), { ok: false, reason: 'unknown' });
    assert.equal((await store.takeFlow('s5', 'b5')).ok, true);
    await store.close();
  });

  test('a flow is taken only by its own browser; another browser leaves it in place', async () => {
    const store = new MemoryStore({ maxSessions: 10, clock: new ManualClock() });
    await store.putFlow('st', flow('mine', 1), 60_000, 10);
    assert.deepEqual(await store.takeFlow('st', 'theirs'), { ok: false, reason: 'other_browser' });
    const t = await store.takeFlow('st', 'mine');
    assert.equal(t.ok && t.flow.returnTo, '/p1');
    assert.deepEqual(await store.takeFlow('st', 'mine'), { ok: false, reason: 'unknown' }, 'once');
    await store.close();
  });

  test('countHit counts in a fixed window from the first hit, then starts over', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryStore({ maxSessions: 10, clock });
    assert.deepEqual(await store.countHit('k', 60_000), { count: 1, resetInMs: 60_000 });
    clock.advance(20_000);
    assert.deepEqual(await store.countHit('k', 60_000), { count: 2, resetInMs: 40_000 });
    assert.deepEqual(await store.countHit('other', 60_000), { count: 1, resetInMs: 60_000 });
    clock.advance(40_000);
    assert.deepEqual(await store.countHit('k', 60_000), { count: 1, resetInMs: 60_000 }, 'a new window');
    await store.close();
  });
});

describe('client address of a request', () => {
  const req = (peer: string, xff?: string) =>
    ({
      socket: { remoteAddress: peer },
      headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
    }) as unknown as IncomingMessage;

  test('without a resolver (or trusted proxies) the peer is the client, X-Forwarded-For ignored', () => {
    assert.equal(clientAddressOf(req('::ffff:192.0.2.1', '198.51.100.1')), '192.0.2.1');
    const r = req('192.0.2.1', '198.51.100.1');
    useClientAddressResolver(r, new ClientAddressResolver([]));
    assert.equal(clientAddressOf(r), '192.0.2.1');
  });

  test('behind a trusted proxy: the right-most untrusted X-Forwarded-For entry', () => {
    const resolver = new ClientAddressResolver(['10.0.0.0/8']);
    const r = req('10.0.0.5', '6.6.6.6, 198.51.100.1, 10.0.0.9');
    useClientAddressResolver(r, resolver);
    assert.equal(clientAddressOf(r), '198.51.100.1');
    const untrusted = req('192.0.2.1', '198.51.100.1');
    useClientAddressResolver(untrusted, resolver);
    assert.equal(clientAddressOf(untrusted), '192.0.2.1');
  });

  test('IPv6 addresses share a rate limit per /64', () => {
    assert.equal(rateLimitSubject('2001:db8:1:2::1'), rateLimitSubject('2001:db8:1:2:ffff::9'));
    assert.notEqual(rateLimitSubject('2001:db8:1:2::1'), rateLimitSubject('2001:db8:1:3::1'));
  });
});

describe('BrowserCrowdWatch', () => {
  function watch(opts: ConstructorParameters<typeof BrowserCrowdWatch>[2] = {}) {
    const lines: Array<Record<string, unknown>> = [];
    const sink = jsonLogSink(lines);
    const clock = new ManualClock();
    return { w: new BrowserCrowdWatch(createLogger('info', sink), clock, opts), lines, clock };
  }
  const id = (i: number) => `${String(i).padStart(6, '0')}browserIdXXXX`;

  test('one warning at the threshold, then quiet for the quiet period, then again', async () => {
    const { w, lines, clock } = watch({ threshold: 5, quietMs: 600_000 });
    for (let i = 0; i < 4; i++) w.note('192.0.2.1', id(i), false);
    for (let i = 0; i < 4; i++) w.note('192.0.2.1', id(0), false);
    assert.equal(lines.length, 0, 'the same browser again is not another browser');
    for (let i = 4; i < 50; i++) w.note('192.0.2.1', id(i), false);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.client, '192.0.2.1');
    assert.match(String(lines[0]!.msg), /server\.trustedProxies/);
    clock.advance(600_001);
    for (let i = 0; i < 5; i++) w.note('192.0.2.1', id(i), false);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 2);
  });

  test('browsers spread over windows or addresses do not add up', async () => {
    const { w, lines, clock } = watch({ threshold: 5, windowMs: 60_000, maxAddresses: 3 });
    for (let i = 0; i < 20; i++) {
      w.note('192.0.2.1', id(i), false);
      clock.advance(15_001); // at most 4 in any one window
    }
    for (let a = 0; a < 50; a++) for (let i = 0; i < 4; i++) w.note(`198.51.100.${a}`, id(i), false);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 0);
  });
});
