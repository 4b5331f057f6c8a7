// The memtable's B+tree (MemTree) against a sorted array: random inserts of
// keys with shared prefixes (so the six-byte prefixes tie and the bytes
// decide, keys shorter than six bytes among them), ascending and descending runs (the append split), enough keys for
// three levels; then get, ordered range reads in batches, and reverse steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { keyPrefix, MemTree } from '../../src/storage/lsm/mem-tree.ts';

const charArb = fc.constantFrom('\x00', '\x01', 'a', 'b', '\xfe', '\xff');
const keyArb = fc.array(charArb, { minLength: 0, maxLength: 9 }).map((c) => c.join(''));

interface E {
  readonly kbuf: Buffer;
  readonly koff: number;
  readonly klen: number;
  readonly id: number;
}

const b = (k: string): Buffer => Buffer.from(k, 'latin1');
const str = (e: E | undefined): string | undefined =>
  e === undefined ? undefined : e.kbuf.toString('latin1', e.koff, e.koff + e.klen);

function check(keys: readonly string[]): void {
  const t = new MemTree<E>();
  const model = new Map<string, number>();
  keys.forEach((k, i) => {
    // Keys sit at an offset inside a larger buffer, as in the memtable's arena.
    const kbuf = Buffer.concat([b('##'), b(k), b('#')]);
    const had = model.get(k);
    assert.equal(t.insertOrGet(b(k), { kbuf, koff: 2, klen: k.length, id: i })?.id, had);
    if (had === undefined) model.set(k, i);
  });
  const sorted = [...model.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  assert.equal(t.size, sorted.length);
  assert.deepEqual(t.toArray().map(str), sorted);
  // Range reads in batches of 7 (each restarting after the last key of the previous one).
  const out: E[] = [];
  const walked: string[] = [];
  let n = t.range(b(''), true, 7, out);
  for (;;) {
    for (const e of out) {
      walked.push(str(e)!);
      assert.equal(e.id, model.get(str(e)!));
    }
    if (n < 7) break;
    n = t.range(b(str(out[n - 1])!), false, 7, out);
  }
  assert.deepEqual(walked, sorted);
  // Reverse: from the end, one lower() per step.
  const back: string[] = [];
  for (let e = t.lower(undefined, true); e !== undefined; e = t.lower(b(str(e)!), false)) back.push(str(e)!);
  assert.deepEqual(back, [...sorted].reverse());
  // Point reads and bounds of present and absent keys.
  const probes = [...sorted, ...keys.map((k) => k + '\x00'), 'a', '\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff'];
  for (const k of probes.length > 2000 ? probes.filter((_, i) => i % 211 === 0) : probes) {
    assert.equal(t.get(b(k))?.id, model.get(k));
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
