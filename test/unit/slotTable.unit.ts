import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import v8 from 'node:v8';
import { RequestDrain } from '../../src/http/requestDrain.js';
import { cutStalledWriters } from '../../src/http/serverLimits.js';
import { SlotTable } from '../../src/util/slotTable.js';

/** A response as the drain sees it: closes once, says whether its head went out. */
class FakeResponse extends EventEmitter {
  headersSent = false;
  shouldKeepAlive = true;
  /** Attached to its connection (not queued behind a pipelined response). */
  readonly socket = {};
  /** Stands for the request's object graph (headers, parser state, buffers). */
  readonly payload = new Array(64).fill(0);
}

function oldSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
}

/** Enough short-lived garbage for several young-generation GCs: what existed before is old now. */
function ageEverything(): void {
  const before = v8.getHeapStatistics().total_heap_size;
  let keep: number[][] = [];
  // Kept a little while, so that no compiler can optimise the allocations away.
  for (let i = 0; i < 3_000_000; i++) {
    keep.push([i]);
    if (keep.length === 1000) keep = [];
  }
  assert.ok(keep.length >= 0 && before > 0);
}

/**
 * Runs `cycles` short lives of `start()`/`end()`, 32 alive at a time, and returns how much the old
 * generation grew meanwhile (growth only, sampled every 1000 cycles; a full GC can only lower it).
 */
function oldSpaceGrowth(cycles: number, start: () => () => void): number {
  const alive: Array<() => void> = [];
  let grown = 0;
  let last = oldSpaceUsed();
  for (let i = 0; i < cycles; i++) {
    alive.push(start());
    if (alive.length > 32) alive.shift()!();
    if (i % 1000 === 0) {
      const now = oldSpaceUsed();
      if (now > last) grown += now - last;
      last = now;
    }
  }
  for (const end of alive) end();
  return grown;
}

describe('SlotTable', () => {
  test('add, remove and reuse: size counts the live items, a freed slot is reused first', () => {
    const t = new SlotTable<{ n: number }>();
    const a = { n: 1 };
    const b = { n: 2 };
    const sa = t.add(a);
    const sb = t.add(b);
    assert.equal(t.size, 2);
    assert.equal(t.remove(sa, a), true);
    assert.equal(t.size, 1);
    const c = { n: 3 };
    assert.equal(t.add(c), sa, 'the freed slot is reused');
    const seen: number[] = [];
    t.forEach((item) => {
      seen.push(item.n);
    });
    assert.deepEqual(seen.sort(), [2, 3]);
    assert.equal(sb, 1);
  });

  test('a second remove, or a remove of a slot that now holds another item, changes nothing', () => {
    const t = new SlotTable<object>();
    const a = {};
    const slot = t.add(a);
    assert.equal(t.remove(slot, a), true);
    const b = {};
    assert.equal(t.add(b), slot);
    assert.equal(t.remove(slot, a), false, 'a stale remove must not evict the slot’s new holder');
    assert.equal(t.size, 1);
    assert.equal(t.remove(slot, b), true);
    assert.equal(t.remove(slot, b), false);
    assert.equal(t.size, 0);
  });

  test('forEach may remove items while it visits them', () => {
    const t = new SlotTable<{ n: number }>();
    const items = [1, 2, 3, 4].map((n) => ({ n }));
    const slots = items.map((i) => t.add(i));
    const seen: number[] = [];
    t.forEach((item, slot) => {
      seen.push(item.n);
      t.remove(slot, item);
      if (item.n === 1) t.remove(slots[1]!, items[1]!); // another one, not visited yet
    });
    assert.deepEqual(seen, [1, 3, 4]);
    assert.equal(t.size, 0);
  });
});

describe('RequestDrain', () => {
  function track(server: Server): FakeResponse {
    const res = new FakeResponse();
    server.emit('request', {}, res);
    return res;
  }

  test('counts the requests in flight; idle() waits for the last one and closes keep-alive of unanswered ones', async () => {
    const server = createServer();
    server.removeAllListeners('request');
    const drain = new RequestDrain(server);
    const answered = track(server);
    answered.headersSent = true;
    const waiting = track(server);
    assert.equal(drain.active, 2);
    let idle = false;
    const done = drain.idle().then(() => {
      idle = true;
    });
    assert.equal(waiting.shouldKeepAlive, false, 'its head is still to go: it says Connection: close');
    assert.equal(answered.shouldKeepAlive, true, 'its head went out already');
    const late = track(server);
    assert.equal(late.shouldKeepAlive, false, 'a request arriving while draining');
    answered.emit('close');
    waiting.emit('close');
    waiting.emit('close'); // a second close counts once
    assert.equal(drain.active, 1);
    await Promise.resolve();
    assert.equal(idle, false);
    late.emit('close');
    await done;
    assert.equal(drain.active, 0);
  });

  test('the responses it tracked are not kept alive for the young-generation GC (no promotion per request)', () => {
    const server = createServer();
    server.removeAllListeners('request');
    const drain = new RequestDrain(server);
    track(server).emit('close');
    ageEverything(); // the drain's own structures are old now, as in a gateway that has run a while
    const grown = oldSpaceGrowth(200_000, () => {
      const res = track(server);
      return () => res.emit('close');
    });
    assert.equal(drain.active, 0);
    // With a Set of responses: ~80 MB (every response and what it holds promoted); here ~0.
    assert.ok(grown < 16e6, `old generation grew ${(grown / 1e6).toFixed(1)} MB over 200 000 requests`);
  });
});

describe('cutStalledWriters', () => {
  test('the connections it watched are not kept alive for the young-generation GC (no promotion per connection)', () => {
    const server = new EventEmitter() as unknown as Server;
    cutStalledWriters(server, 60_000, () => assert.fail('nothing stalls here'));
    const connect = () => {
      const socket = Object.assign(new EventEmitter(), { payload: new Array(64).fill(0) });
      server.emit('connection', socket as unknown as Socket);
      return () => socket.emit('close');
    };
    connect()();
    ageEverything();
    const grown = oldSpaceGrowth(200_000, connect);
    server.emit('close');
    assert.ok(grown < 16e6, `old generation grew ${(grown / 1e6).toFixed(1)} MB over 200 000 connections`);
  });
});
