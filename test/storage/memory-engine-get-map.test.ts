// MemoryEngine's hash map for get (beside the B-tree): gets agree with the
// tree through puts, overwrites, deletes, batches and close, and keep
// agreeing after the map is dropped for size (getMapKeysMax) and get falls
// back to the tree. Snapshots read their tree clone either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';

const b = (s: string): Buffer => Buffer.from(s);

function check(e: MemoryEngine, model: Map<string, string>, keys: readonly string[]): void {
  for (const k of keys) assert.equal(e.get(b(k))?.toString(), model.get(k), `get ${k}`);
  const scanned = [...e.scan()].map(([k, v]) => [k.toString(), v.toString()]);
  assert.deepEqual(
    scanned,
    [...model].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
  );
}

for (const max of [1000, 5]) {
  test(`get agrees with the tree through writes (map dropped above ${max} keys: ${max < 20})`, () => {
    const e = new MemoryEngine({ getMapKeysMax: max });
    const model = new Map<string, string>();
    const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    for (const [i, k] of keys.entries()) {
      e.put(b(k), b(`v${i}`));
      model.set(k, `v${i}`);
    }
    check(e, model, [...keys, 'missing']);
    const snap = e.snapshot();
    e.put(b('k03'), b('over'));
    model.set('k03', 'over');
    e.delete(b('k04'));
    model.delete('k04');
    e.delete(b('missing'));
    const batch = new WriteBatch();
    batch.put(b('k05'), b('batched'));
    batch.delete(b('k06'));
    batch.put(b('new'), b('n'));
    e.write(batch);
    model.set('k05', 'batched');
    model.delete('k06');
    model.set('new', 'n');
    check(e, model, [...keys, 'new', 'missing']);
    assert.equal(snap.get(b('k03'))?.toString(), 'v3');
    assert.equal(snap.get(b('k04'))?.toString(), 'v4');
    snap.release();
    assert.equal(e.stats().keys, model.size);
  });
}

test('close empties what get sees', async () => {
  const e = new MemoryEngine();
  e.put(b('a'), b('1'));
  await e.close();
  assert.throws(() => e.get(b('a')));
});

test('overwrites past the index compaction keep gets, scans, snapshots and held values right', () => {
  const e = new MemoryEngine();
  const keys = 100;
  for (let k = 0; k < keys; k++) e.put(b(`k${k}`), b(`v0-${k}`));
  const snap = e.snapshot();
  const held = e.get(b('k7'))!;
  // 100 keys x 1000 rounds x ~120 bytes: about 12 MiB of garbage, past the 8 MiB compaction floor.
  const pad = 'p'.repeat(100);
  for (let round = 1; round <= 1000; round++) {
    if (round === 900) {
      // Compaction ran at about round 700 (8 MiB of garbage): the snapshot still reads its values.
      for (let k = 0; k < keys; k++) assert.equal(snap.get(b(`k${k}`))?.toString(), `v0-${k}`);
      snap.release();
    }
    for (let k = 0; k < keys; k++) e.put(b(`k${k}`), b(`v${round}-${k}-${pad}`));
  }
  assert.equal(held.toString(), 'v0-7');
  for (let k = 0; k < keys; k++) assert.equal(e.get(b(`k${k}`))?.toString(), `v1000-${k}-${pad}`);
  const scanned = [...e.scan()];
  assert.equal(scanned.length, keys);
  for (const [k, v] of scanned) assert.equal(v.toString(), `v1000-${k.toString().slice(1)}-${pad}`);
  assert.equal(e.stats().keys, keys);
});
