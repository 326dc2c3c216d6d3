import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedTtlMap } from '../../src/util/lru.js';

describe('BoundedTtlMap', () => {
  test('full: evicts the oldest entry nobody read since, never one just read', () => {
    const m = new BoundedTtlMap<string, number>(3, () => 0);
    m.set('a', 1, 1000);
    m.set('b', 2, 1000);
    m.set('c', 3, 1000);
    assert.equal(m.get('a'), 1); // a is in use: b, the oldest unread, goes
    m.set('d', 4, 1000);
    assert.deepEqual([...m.entries()].map(([k]) => k).sort(), ['a', 'c', 'd']);
    m.set('e', 5, 1000); // a's second chance was spent: now c (unread) goes, then a is the oldest
    assert.deepEqual([...m.entries()].map(([k]) => k).sort(), ['a', 'd', 'e']);
    m.set('f', 6, 1000);
    assert.equal(m.get('a'), undefined, 'a, unread since its second chance, is evicted next');
    assert.equal(m.size, 3);
  });

  test('every entry read: one set gives at most 32 second chances, then evicts (a bounded walk)', () => {
    const m = new BoundedTtlMap<number, number>(1000, () => 0);
    for (let i = 0; i < 1000; i++) m.set(i, i, 1000);
    for (let i = 0; i < 1000; i++) m.get(i);
    m.set(-1, -1, 1000);
    const kept = new Set([...m.entries()].map(([k]) => k));
    assert.equal(m.size, 1000);
    assert.equal(kept.has(32), false, 'the 33rd oldest goes: the 32 before it had their second chance');
    for (let i = 0; i < 32; i++) assert.ok(kept.has(i), `${i} kept`);
    assert.ok(kept.has(33) && kept.has(-1));
  });

  test('every entry read: still bounded, each set evicts exactly one', () => {
    const m = new BoundedTtlMap<number, number>(100, () => 0);
    for (let i = 0; i < 100; i++) m.set(i, i, 1000);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 100 + round; i++) m.get(i);
      m.set(1000 + round, round, 1000);
      assert.equal(m.size, 100);
    }
  });

  test('an expired entry is not read; the walk evicts it even when it was read before', () => {
    let now = 0;
    const m = new BoundedTtlMap<string, number>(2, () => now);
    m.set('old', 1, 10);
    m.set('live', 2, 1000);
    m.get('old');
    now = 20;
    assert.equal(m.get('old'), undefined);
    m.set('x', 3, 1000);
    m.get('live');
    m.set('y', 4, 1000);
    assert.equal(m.get('live'), 2);
    assert.equal(m.size, 2);
  });
});
