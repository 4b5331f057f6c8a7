// Unit tests of the pure leveled-compaction picker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { levelScores, pickCompaction, type PickerTable } from '../../src/storage/lsm/compaction-picker.ts';

const o = { l0Trigger: 4, l1MaxBytes: 100, levelMultiplier: 10 };
let nextNumber = 1;
const t = (smallest: string, largest: string, size = 10): PickerTable => ({
  number: nextNumber++,
  size,
  smallest,
  largest,
});
const levels = (...ls: PickerTable[][]): PickerTable[][] => Array.from({ length: 7 }, (_, i) => ls[i] ?? []);
const numbers = (ts: readonly PickerTable[]): number[] => ts.map((x) => x.number);

test('picker: a tree within its limits needs no compaction', () => {
  assert.equal(pickCompaction(levels([t('a', 'b'), t('c', 'd')], [t('a', 'z', 90)]), o, []), undefined);
});

test('picker: L0 at its trigger compacts all of L0 with the overlapping L1 tables', () => {
  const l0 = [t('d', 'f'), t('a', 'c'), t('e', 'h'), t('b', 'e')];
  const l1 = [t('a', 'a'), t('c', 'd'), t('g', 'k'), t('m', 'p')];
  const p = pickCompaction(levels(l0, l1), o, []);
  assert.ok(p);
  assert.equal(p.level, 0);
  assert.equal(p.outputLevel, 1);
  assert.deepEqual(numbers(p.inputs), numbers(l0));
  assert.deepEqual(numbers(p.nextInputs), numbers(l1.slice(0, 3)));
  assert.equal(p.trivialMove, false);
  assert.equal(p.score, 1);
});

test('picker: the level with the highest score wins', () => {
  const l0 = [t('a', 'b'), t('c', 'd'), t('e', 'f'), t('g', 'h')]; // score 1
  const l1 = [t('a', 'c', 150), t('d', 'f', 150)]; // score 3
  const p = pickCompaction(levels(l0, l1), o, []);
  assert.equal(p?.level, 1);
  assert.deepEqual(levelScores(levels(l0, l1), o).slice(0, 3), [1, 3, 0]);
});

test('picker: level n picks round-robin after its compaction pointer and takes overlapping n+1 tables', () => {
  const l1 = [t('a', 'c', 60), t('d', 'f', 60), t('g', 'i', 60)];
  const l2 = [t('b', 'b'), t('e', 'e'), t('f', 'g'), t('x', 'y')];
  const first = pickCompaction(levels([], l1, l2), o, []);
  assert.deepEqual(numbers(first!.inputs), [l1[0]!.number]);
  assert.deepEqual(numbers(first!.nextInputs), [l2[0]!.number]);
  const second = pickCompaction(levels([], l1, l2), o, [undefined, 'c']);
  assert.deepEqual(numbers(second!.inputs), [l1[1]!.number]);
  assert.deepEqual(numbers(second!.nextInputs), [l2[1]!.number, l2[2]!.number]);
  const wrapped = pickCompaction(levels([], l1, l2), o, [undefined, 'i']);
  assert.deepEqual(numbers(wrapped!.inputs), [l1[0]!.number], 'after the last table the pointer wraps');
});

test('picker: one input with no overlap below is a trivial move', () => {
  const l1 = [t('a', 'c', 250)];
  const p = pickCompaction(levels([], l1, [t('x', 'z')]), o, []);
  assert.equal(p?.trivialMove, true);
  assert.equal(p?.outputLevel, 2);
});

test('picker: the bottom level is never compacted; deeper targets grow by the multiplier', () => {
  const huge = [t('a', 'z', 1e12)];
  assert.equal(pickCompaction(levels([], [], [], [], [], [], huge), o, []), undefined);
  const l2 = [t('a', 'z', 999)];
  assert.equal(pickCompaction(levels([], [], l2), o, []), undefined, '999 bytes is under L2 target 1000');
  l2.push(t('zz', 'zz', 2));
  assert.equal(pickCompaction(levels([], [], l2), o, [])?.level, 2);
});
