// HashIndex (src/storage/hash-index.ts) against a Map model: random
// inserts, overwrites and deletes over a small key space (long probe runs,
// so backward-shift deletion and growth are exercised), with compaction
// forced early (evacuations then run all the time, a few buckets per
// write, while deletes shift entries around the cursor). Every returned
// value view must keep its bytes after the key is overwritten, deleted or
// moved, the index must keep its own copy of each value and each entry's
// slot, and no entry may be left in an evacuated chunk (the index asserts
// that when it drops them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HashIndex, hashBytes } from '../../src/storage/hash-index.ts';

type Op = { kind: 'set'; key: number; len: number } | { kind: 'del'; key: number };

const keyOf = (k: number): Buffer => Buffer.from(k % 3 === 0 ? `k${k}` : `key-${k}-${'x'.repeat(k % 7)}`);

function run(
  ops: readonly Op[],
  compactGarbageMinBytes: number,
  keySpace = 64,
  evacuateStepBuckets = 8,
): { moved: number } {
  let moved = 0;
  const index = new HashIndex({
    compactGarbageMinBytes,
    initialBuckets: 4,
    evacuateStepBuckets,
    moved: () => void moved++,
  });
  const model = new Map<number, { slot: number; value: Buffer }>();
  const held: [Buffer, Buffer][] = []; // views handed out by get, with a copy of their bytes then
  let nextSlot = 0;
  let version = 0;
  for (const op of ops) {
    const key = keyOf(op.key);
    const b = index.find(key);
    assert.equal(b >= 0, model.has(op.key), `find ${op.key}`);
    if (op.kind === 'set') {
      const value = Buffer.alloc(op.len, version++ & 0xff);
      if (b >= 0) {
        assert.equal(index.slotAt(b), model.get(op.key)!.slot);
        index.replaceAt(b, key, value);
        model.get(op.key)!.value = value;
      } else {
        index.insert(key, value, nextSlot);
        model.set(op.key, { slot: nextSlot++, value });
      }
      value.fill(0xee); // the index keeps its own copy
      const view = index.get(key)!;
      assert.equal(view.length, op.len);
      held.push([view, Buffer.from(view)]);
      model.get(op.key)!.value = Buffer.from(view);
    } else if (b >= 0) {
      index.deleteAt(b);
      model.delete(op.key);
    }
    assert.equal(index.size, model.size);
  }
  for (let k = 0; k < keySpace; k++) {
    const m = model.get(k);
    assert.deepEqual(index.get(keyOf(k)), m?.value, `get ${k}`);
    if (m !== undefined) assert.equal(index.slotAt(index.find(keyOf(k))), m.slot, `slot of ${k}`);
  }
  for (const [view, bytes] of held) assert.ok(view.equals(bytes), 'a handed-out view changed');
  return { moved };
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.integer({ min: 0, max: 63 }),
    len: fc.integer({ min: 0, max: 40 }),
  }),
  fc.record({ kind: fc.constant('del' as const), key: fc.integer({ min: 0, max: 63 }) }),
);

test('hash index agrees with a Map through inserts, overwrites, deletes and compactions', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
      run(ops, 64);
    }),
    { numRuns: 300 },
  );
});

test('hash index: growth past the initial buckets, then everything deleted', () => {
  const ops: Op[] = [];
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 64; k++) ops.push({ kind: 'set', key: k, len: (k * 7 + round) % 50 });
    for (let k = 0; k < 64; k += 2) ops.push({ kind: 'del', key: k });
  }
  for (let k = 0; k < 64; k++) ops.push({ kind: 'del', key: k });
  assert.ok(run(ops, 256).moved > 0, 'the sequence moves entries out of old chunks');

  const index = new HashIndex();
  for (let i = 0; i < 5000; i++) index.insert(Buffer.from(`row-${i}`), Buffer.from(`v${i}`), i);
  for (let i = 0; i < 5000; i++) assert.equal(index.get(Buffer.from(`row-${i}`))?.toString(), `v${i}`);
  for (let i = 0; i < 5000; i += 3) index.deleteAt(index.find(Buffer.from(`row-${i}`)));
  for (let i = 0; i < 5000; i++)
    assert.equal(index.get(Buffer.from(`row-${i}`))?.toString(), i % 3 === 0 ? undefined : `v${i}`);
  assert.equal(index.get(Buffer.from('row-')), undefined);
});

test('hash index: an entry bigger than a quarter chunk gets a chunk of its own', () => {
  const index = new HashIndex();
  const big = Buffer.alloc(600_000, 7);
  index.insert(Buffer.from('a'), Buffer.from('small'), 0);
  index.insert(Buffer.from('big'), big, 1);
  index.insert(Buffer.from('b'), Buffer.from('after'), 2);
  assert.ok(index.get(Buffer.from('big'))!.equals(big));
  assert.equal(index.get(Buffer.from('a'))!.toString(), 'small');
  assert.equal(index.get(Buffer.from('b'))!.toString(), 'after');
});

test('hash index: deletes shift entries of old chunks from ahead of the evacuation cursor to behind it', () => {
  // A small table and one bucket per evacuation step: evacuations run most of
  // the time and backward shifts often cross the cursor (each such entry must
  // be moved at once, or the index asserts when it drops the old chunks).
  let seed = 7;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const ops: Op[] = [];
  for (let k = 0; k < 40; k++) ops.push({ kind: 'set', key: k, len: 8 });
  for (let i = 0; i < 20_000; i++)
    ops.push(next(3) === 0 ? { kind: 'del', key: next(40) } : { kind: 'set', key: next(40), len: next(24) });
  assert.ok(run(ops, 512, 40, 1).moved > 0);
});

test('hash index: an entry of an old chunk shifted behind the evacuation cursor is moved at once', () => {
  // Eight buckets; A and B share home bucket h (B sits at h + 1), C lives elsewhere.
  const home = (k: string): number => hashBytes(Buffer.from(k)) & 7;
  const names = Array.from({ length: 200 }, (_, i) => `k${i}`);
  const a = names.find((k) => home(k) <= 5)!;
  const h = home(a);
  const b = names.find((k) => k !== a && home(k) === h)!;
  const c = names.find((k) => home(k) > h + 2 || home(k) < h)!;
  const moved = new Set<number>();
  const index = new HashIndex({
    compactGarbageMinBytes: 1,
    initialBuckets: 8,
    evacuateStepBuckets: 1,
    moved: (slot) => void moved.add(slot),
  });
  index.insert(Buffer.from(a), Buffer.from('A'), 0);
  index.insert(Buffer.from(b), Buffer.from('B'), 1);
  index.insert(Buffer.from(c), Buffer.from('C'), 2);
  assert.equal(index.find(Buffer.from(b)), h + 1);
  // Overwrite C until the garbage outweighs the live entries (the evacuation starts), then h + 1 more
  // writes: one bucket each, so the cursor stands at h + 1, past A, before B.
  let writes = 0;
  while (moved.size === 0 || !moved.has(0)) {
    index.replaceAt(index.find(Buffer.from(c)), Buffer.from(c), Buffer.from(`C${writes++}`));
    assert.ok(writes < 100, 'the evacuation reached A');
  }
  assert.ok(!moved.has(1), 'B not moved yet');
  index.deleteAt(index.find(Buffer.from(a))); // B shifts back into bucket h, behind the cursor
  assert.equal(index.find(Buffer.from(b)), h);
  assert.ok(moved.has(1), 'B moved when it was shifted behind the cursor');
  for (let i = 0; i < 20; i++) index.replaceAt(index.find(Buffer.from(c)), Buffer.from(c), Buffer.from(`D${i}`));
  assert.equal(index.get(Buffer.from(b))?.toString(), 'B');
  assert.equal(index.get(Buffer.from(a)), undefined);
});
