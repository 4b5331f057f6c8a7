// HashIndex (src/storage/hash-index.ts) against a Map model: random
// inserts, overwrites and deletes over a small key space (long probe runs,
// so backward-shift deletion and growth are exercised), with compaction
// forced early. Every returned value view must keep its bytes after the
// key is overwritten, deleted or the arena compacted, and `relocated` must
// name every moved entry's slot with a view of the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HashIndex } from '../../src/storage/hash-index.ts';

type Op = { kind: 'set'; key: number; len: number } | { kind: 'del'; key: number };

const keyOf = (k: number): Buffer => Buffer.from(k % 3 === 0 ? `k${k}` : `key-${k}-${'x'.repeat(k % 7)}`);

function run(ops: readonly Op[], compactGarbageMinBytes: number): { compactions: number } {
  const slots = new Map<number, Buffer>();
  let compactions = 0;
  let movedThisOp = 0;
  let replacing = -1; // the slot whose value replaceAt is writing (a compaction there moves the new value)
  const index = new HashIndex(
    (slot, v) => {
      const before = slots.get(slot);
      assert.ok(before !== undefined, `relocated an unknown slot ${slot}`);
      if (slot !== replacing) assert.ok(before.equals(v), 'relocation changed the bytes');
      slots.set(slot, v);
      movedThisOp++;
    },
    { compactGarbageMinBytes },
  );
  const model = new Map<number, { slot: number; value: Buffer }>();
  const held: [Buffer, Buffer][] = []; // views handed out, with a copy of their bytes then
  let nextSlot = 0;
  let version = 0;
  for (const op of ops) {
    movedThisOp = 0;
    const key = keyOf(op.key);
    const b = index.find(key);
    assert.equal(b >= 0, model.has(op.key), `find ${op.key}`);
    if (op.kind === 'set') {
      const value = Buffer.alloc(op.len, version++ & 0xff);
      let view: Buffer;
      if (b >= 0) {
        const slot = index.slotAt(b);
        assert.equal(slot, model.get(op.key)!.slot);
        replacing = slot;
        view = index.replaceAt(b, key, value);
        replacing = -1;
        slots.set(slot, view);
      } else {
        const slot = nextSlot++;
        view = index.insert(key, value, slot);
        slots.set(slot, view);
        model.set(op.key, { slot, value });
      }
      model.get(op.key)!.value = value;
      assert.ok(view.equals(value));
      held.push([view, Buffer.from(view)]);
    } else if (b >= 0) {
      slots.delete(model.get(op.key)!.slot);
      index.deleteAt(b);
      model.delete(op.key);
    }
    if (movedThisOp > 0) {
      compactions++;
      assert.equal(movedThisOp, model.size, 'a compaction moves every live entry');
    }
    assert.equal(index.size, model.size);
  }
  for (let k = 0; k < 64; k++) {
    const m = model.get(k);
    assert.deepEqual(index.get(keyOf(k)), m?.value, `get ${k}`);
    if (m !== undefined) assert.ok(slots.get(m.slot)!.equals(m.value), `slot of ${k}`);
  }
  for (const [view, bytes] of held) assert.ok(view.equals(bytes), 'a handed-out view changed');
  return { compactions };
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
  assert.ok(run(ops, 256).compactions > 0, 'the sequence compacts at least once');

  const index = new HashIndex(() => undefined);
  for (let i = 0; i < 5000; i++) index.insert(Buffer.from(`row-${i}`), Buffer.from(`v${i}`), i);
  for (let i = 0; i < 5000; i++) assert.equal(index.get(Buffer.from(`row-${i}`))?.toString(), `v${i}`);
  for (let i = 0; i < 5000; i += 3) index.deleteAt(index.find(Buffer.from(`row-${i}`)));
  for (let i = 0; i < 5000; i++)
    assert.equal(index.get(Buffer.from(`row-${i}`))?.toString(), i % 3 === 0 ? undefined : `v${i}`);
  assert.equal(index.get(Buffer.from('row-')), undefined);
});

test('hash index: an entry bigger than a quarter chunk gets a chunk of its own', () => {
  const index = new HashIndex(() => undefined);
  const big = Buffer.alloc(600_000, 7);
  index.insert(Buffer.from('a'), Buffer.from('small'), 0);
  index.insert(Buffer.from('big'), big, 1);
  index.insert(Buffer.from('b'), Buffer.from('after'), 2);
  assert.ok(index.get(Buffer.from('big'))!.equals(big));
  assert.equal(index.get(Buffer.from('a'))!.toString(), 'small');
  assert.equal(index.get(Buffer.from('b'))!.toString(), 'after');
});
