// The block cache: its byte budget holds after every insertion, a block hit
// since it last reached the tail survives the next eviction (CLOCK's second
// chance) while an unreferenced one goes, and evictAll empties a table's slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCache, CacheSlots } from '../../src/storage/lsm/block-cache.ts';
import { Prng } from '../../src/util/prng.ts';

const block = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

test('block cache: a block hit since it was inserted gets a second chance; an unreferenced one is evicted', () => {
  const cache = new BlockCache(300);
  const slots = new CacheSlots(4);
  cache.set(slots, 0, block(100, 0));
  cache.set(slots, 1, block(100, 1));
  cache.set(slots, 2, block(100, 2));
  assert.equal(cache.get(slots, 0)?.[0], 0); // block 0 referenced
  cache.set(slots, 3, block(100, 3)); // over budget: 0 (oldest, referenced) survives, 1 (unreferenced) goes
  assert.equal(cache.bytes, 300);
  assert.ok(cache.get(slots, 0) !== undefined, 'the referenced block survives');
  assert.equal(cache.get(slots, 1), undefined, 'the unreferenced oldest block is evicted');
  assert.ok(cache.get(slots, 2) !== undefined);
  assert.ok(cache.get(slots, 3) !== undefined);
  cache.evictAll(slots);
  assert.equal(cache.bytes, 0);
  assert.equal(cache.entries, 0);
});

test('block cache: random inserts and hits never exceed the budget, and a hit returns the block stored in that slot', () => {
  const prng = new Prng(7);
  const cache = new BlockCache(10_000);
  const tables = [new CacheSlots(64), new CacheSlots(64)];
  for (let i = 0; i < 5000; i++) {
    const t = prng.int(2);
    const s = tables[t]!;
    const b = prng.int(64);
    const got = cache.get(s, b);
    if (got === undefined) cache.set(s, b, block(100 + prng.int(900), (t * 64 + b) & 0xff));
    else assert.equal(got[0], (t * 64 + b) & 0xff);
    assert.ok(cache.bytes <= 10_000, `cache holds ${cache.bytes} bytes`);
  }
  assert.ok(cache.hits > 0 && cache.misses > 0);
  // A block larger than the whole budget is not cached at all.
  cache.set(tables[0]!, 0, block(20_000, 1));
  assert.ok(cache.bytes <= 10_000);
});
