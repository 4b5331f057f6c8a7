// The memtable's B+tree (MemTree) against a sorted array: random inserts of
// keys with shared prefixes (so the six-byte prefixes tie and the bytes
// decide, keys shorter than six bytes among them), ascending and descending runs (the append split), enough keys for
// three levels; then get, ordered range reads in batches, and reverse steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  KEY_CHUNK,
  KEY_LEN,
  KEY_OFF,
  KEY_STRIDE,
  keyPrefix,
  MemTree,
  type KeyStore,
} from '../../src/storage/lsm/mem-tree.ts';

const charArb = fc.constantFrom('\x00', '\x01', 'a', 'b', '\xfe', '\xff');
const keyArb = fc.array(charArb, { minLength: 0, maxLength: 9 }).map((c) => c.join(''));

/** A KeyStore whose keys sit at an offset inside larger buffers, as in the memtable's arena. */
class Keys implements KeyStore {
  readonly chunks: Buffer[] = [];
  keyMeta = new Int32Array(16 * KEY_STRIDE);
  add(k: string): number {
    const id = this.chunks.length;
    if ((id + 1) * KEY_STRIDE > this.keyMeta.length) {
      const grown = new Int32Array(this.keyMeta.length * 2);
      grown.set(this.keyMeta);
      this.keyMeta = grown;
    }
    this.chunks.push(Buffer.concat([b('##'), b(k), b('#')]));
    this.keyMeta[id * KEY_STRIDE + KEY_CHUNK] = id;
    this.keyMeta[id * KEY_STRIDE + KEY_OFF] = 2;
    this.keyMeta[id * KEY_STRIDE + KEY_LEN] = k.length;
    return id;
  }
  str(id: number): string | undefined {
    if (id < 0) return undefined;
    const off = this.keyMeta[id * KEY_STRIDE + KEY_OFF]!;
    return this.chunks[id]!.toString('latin1', off, off + this.keyMeta[id * KEY_STRIDE + KEY_LEN]!);
  }
}

const b = (k: string): Buffer => Buffer.from(k, 'latin1');

function check(keys: readonly string[]): void {
  const store = new Keys();
  const t = new MemTree(store);
  const model = new Map<string, number>();
  const str = (id: number): string | undefined => store.str(id);
  for (const k of keys) {
    // The store records the key before the tree is asked (the tree reads an id's bytes only after inserting it).
    const id = store.add(k);
    const had = model.get(k);
    const got = t.insertOrGet(b(k), id);
    assert.equal(got, had ?? -1);
    if (had === undefined) model.set(k, id);
  }
  const sorted = [...model.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  assert.equal(t.size, sorted.length);
  assert.deepEqual([...t.toArray()].map(str), sorted);
  // Range reads in batches of 7 (each restarting after the last key of the previous one).
  const out: number[] = [];
  const walked: string[] = [];
  let n = t.range(b(''), true, 7, out);
  for (;;) {
    for (const id of out) {
      walked.push(str(id)!);
      assert.equal(id, model.get(str(id)!));
    }
    if (n < 7) break;
    n = t.range(b(str(out[n - 1]!)!), false, 7, out);
  }
  assert.deepEqual(walked, sorted);
  // Reverse: from the end, one lower() per step.
  const back: string[] = [];
  for (let id = t.lower(undefined, true); id >= 0; id = t.lower(b(str(id)!), false)) back.push(str(id)!);
  assert.deepEqual(back, [...sorted].reverse());
  // Point reads and bounds of present and absent keys.
  const probes = [...sorted, ...keys.map((k) => k + '\x00'), 'a', '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff'];
  for (const k of probes.length > 2000 ? probes.filter((_, i) => i % 211 === 0) : probes) {
    assert.equal(t.get(b(k)), model.get(k) ?? -1);
    const below = sorted.filter((s) => s < k);
    const atOrBelow = sorted.filter((s) => s <= k);
    assert.equal(str(t.lower(b(k), false)), below[below.length - 1]);
    assert.equal(str(t.lower(b(k), true)), atOrBelow[atOrBelow.length - 1]);
    t.range(b(k), true, 1, out);
    assert.deepEqual(out.map(str), sorted.filter((s) => s >= k).slice(0, 1));
  }
}

test('mem-tree: key prefixes order like the keys', () => {
  fc.assert(
    fc.property(keyArb, keyArb, (x, y) => {
      if (x < y) assert.ok(keyPrefix(b(x)) <= keyPrefix(b(y)));
    }),
    { numRuns: 2000 },
  );
});

test('mem-tree: random inserts, walks, range batches and reverse steps match a sorted array', () => {
  fc.assert(
    fc.property(fc.array(keyArb, { minLength: 300, maxLength: 1500 }), (keys) =>
      check(keys.concat(keys.slice(0, keys.length >> 1))),
    ),
    { numRuns: 40 },
  );
});

test('mem-tree: ascending, descending and interleaved runs deep enough for three levels', () => {
  const n = 12_000; // over 64 leaves of 64 keys: a root above inner nodes above leaves
  const key = (i: number): string => String.fromCharCode(0x20, 0, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 7) + 'x';
  const asc = Array.from({ length: n }, (_, i) => key(i));
  check(asc);
  check([...asc].reverse());
  // Two interleaved ascending runs plus duplicates.
  check(Array.from({ length: n }, (_, i) => key(i % 2 === 0 ? i : n * 2 + i)).concat(asc.slice(0, 100)));
});
