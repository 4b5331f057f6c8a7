// The memtable's B+tree (MemTree) against a sorted array: random inserts of
// keys with shared prefixes (so the six-byte prefixes tie and the strings
// decide), ascending and descending runs (the append split), enough keys for
// three levels; then get, ordered range reads in batches, and reverse steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { keyPrefix, MemTree } from '../../src/storage/lsm/mem-tree.ts';

const charArb = fc.constantFrom('\x00', '\x01', 'a', 'b', '\xfe', '\xff');
const keyArb = fc.array(charArb, { minLength: 0, maxLength: 9 }).map((c) => c.join(''));

function check(keys: readonly string[]): void {
  const t = new MemTree<number>();
  const model = new Map<string, number>();
  keys.forEach((k, i) => {
    const had = model.get(k);
    assert.equal(t.insertOrGet(k, i), had);
    if (had === undefined) model.set(k, i);
  });
  const sorted = [...model.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.equal(t.size, sorted.length);
  // Full walk, and range reads in batches of 7 (exclusive restarts after the last key).
  assert.deepEqual(
    [...t.entries()].map(([k]) => k),
    sorted,
  );
  const ks: string[] = [];
  const vs: number[] = [];
  const walked: string[] = [];
  let n = t.range('', true, 7, ks, vs);
  for (;;) {
    ks.forEach((k, i) => {
      walked.push(k);
      assert.equal(vs[i], model.get(k));
    });
    if (n < 7) break;
    n = t.range(ks[n - 1]!, false, 7, ks, vs);
  }
  assert.deepEqual(walked, sorted);
  // Reverse: from the end, one lowerPair per step.
  const back: string[] = [];
  for (let p = t.lowerPair(undefined, true); p !== undefined; p = t.lowerPair(p[0], false)) back.push(p[0]);
  assert.deepEqual(back, [...sorted].reverse());
  // Point reads and bounds of present and absent keys.
  const probes = [...sorted, ...keys.map((k) => k + '\x00'), 'a', '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff'];
  for (const k of probes.length > 2000 ? probes.filter((_, i) => i % 211 === 0) : probes) {
    assert.equal(t.get(k), model.get(k));
    const below = sorted.filter((s) => s < k);
    const atOrBelow = sorted.filter((s) => s <= k);
    assert.equal(t.lowerPair(k, false)?.[0], below[below.length - 1]);
    assert.equal(t.lowerPair(k, true)?.[0], atOrBelow[atOrBelow.length - 1]);
    const ge: string[] = [];
    t.range(k, true, 1, ge, []);
    assert.deepEqual(ge, sorted.filter((s) => s >= k).slice(0, 1));
  }
}

test('mem-tree: key prefixes order like the keys', () => {
  fc.assert(
    fc.property(keyArb, keyArb, (a, b) => {
      if (a < b) assert.ok(keyPrefix(a) <= keyPrefix(b));
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
