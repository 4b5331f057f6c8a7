// The block cache: its arena never exceeds the budget, a block hit since it
// was inserted survives the reuse of its segment (kept at the segment's
// front: CLOCK's second chance) while an unreferenced one goes, a hit returns
// the bytes stored for that slot, blocks over half a segment are not cached,
// evictAll empties a table's slots, and a budget over the largest Buffer is cut to it.
import { constants } from 'node:buffer';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCache, CacheSlots } from '../../src/storage/lsm/block-cache.ts';
import { Prng } from '../../src/util/prng.ts';

const MAX_LENGTH = constants.MAX_LENGTH;

const block = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

/** Block i of `slots` as a view, or undefined when not cached (counts a hit or miss like a reader). */
function cached(cache: BlockCache, slots: CacheSlots, i: number): Buffer | undefined {
  if (!cache.get(slots, i)) return undefined;
  return Buffer.from(cache.arena.subarray(slots.off[i]!, slots.off[i]! + slots.len[i]!));
}

test('block cache: a block hit since it was inserted gets a second chance; an unreferenced one is evicted', () => {
  // 4096-byte segments (the smallest), 8 of them in the budget; 1000-byte blocks, 4 per segment.
  const cache = new BlockCache(8 * 4096);
  const slots = new CacheSlots(64);
  for (let i = 0; i < 32; i++) assert.ok(cache.set(slots, i, block(1000, i)));
  assert.equal(cache.entries, 32);
  assert.equal(cached(cache, slots, 0)?.[0], 0); // block 0 referenced; blocks 1-3 share its segment
  assert.equal(cached(cache, slots, 1)?.[0], 1);
  slots.ref[1] = 0; // looked at without counting as a reference
  cache.set(slots, 32, block(1000, 32)); // the head is full: the oldest segment (blocks 0-3) is reused
  assert.ok(cache.arena.length <= 8 * 4096);
  assert.equal(cached(cache, slots, 0)?.[999], 0, 'the referenced block survives, bytes intact');
  assert.equal(cached(cache, slots, 1), undefined, 'an unreferenced block of the evicted segment is gone');
  assert.equal(cached(cache, slots, 2), undefined);
  assert.equal(cached(cache, slots, 3), undefined);
  assert.equal(cached(cache, slots, 32)?.[0], 32);
  cache.evictAll(slots);
  assert.equal(cache.bytes, 0);
  assert.equal(cache.entries, 0);
  assert.equal(cached(cache, slots, 0), undefined);
});

test('block cache: random inserts and hits never exceed the budget, and a hit returns the block stored in that slot', () => {
  const prng = new Prng(7);
  const cache = new BlockCache(40_000);
  let tables = [new CacheSlots(64), new CacheSlots(64), new CacheSlots(64)];
  for (let i = 0; i < 20_000; i++) {
    const t = prng.int(3);
    const s = tables[t]!;
    const b = prng.int(64);
    const got = cached(cache, s, b);
    // Mostly small blocks; some up to half a segment (5000 bytes here), some larger (not cached).
    const size = prng.int(10) === 0 ? 1500 + prng.int(1500) : 100 + prng.int(900);
    if (got === undefined) assert.equal(cache.set(s, b, block(size, (t * 64 + b) & 0xff)), size <= 2500);
    else {
      assert.equal(got[0], (t * 64 + b) & 0xff);
      assert.equal(got[got.length - 1], (t * 64 + b) & 0xff);
    }
    assert.ok(cache.arena.length <= 40_000, `arena of ${cache.arena.length} bytes`);
    assert.ok(cache.bytes <= cache.arena.length);
    if (i % 5000 === 4999) {
      // A table closes and another opens (its cache number is reused).
      cache.evictAll(tables[0]!);
      tables = [new CacheSlots(64), tables[1]!, tables[2]!];
    }
  }
  assert.ok(cache.hits > 0 && cache.misses > 0);
  let live = 0;
  for (const s of tables) for (let i = 0; i < 64; i++) if (s.seg[i] !== 0) live += s.len[i]!;
  assert.equal(cache.bytes, live, 'bytes counts exactly the blocks the slots hold');
  // A block larger than the whole budget is not cached at all.
  assert.equal(cache.set(tables[0]!, 0, block(50_000, 1)), false);
  assert.ok(cache.arena.length <= 40_000);
});

test('block cache: a budget over the largest Buffer is cut to it (the arena is one Buffer, offsets are u32s)', () => {
  const cache = new BlockCache(2 ** 34);
  assert.ok(cache.arenaBytes <= MAX_LENGTH && cache.arenaBytes > 2 ** 31, `arena of ${cache.arenaBytes} bytes`);
  assert.equal(cache.arena.length, 0, 'nothing is allocated before the first insertion');
  const slots = new CacheSlots(1);
  slots.off[0] = 2 ** 31 + 5;
  assert.equal(slots.off[0], 2 ** 31 + 5, 'an offset past 2 GiB reads back as written');
});
