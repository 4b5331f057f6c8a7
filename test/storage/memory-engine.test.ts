// Smoke test of the in-memory engine; the shared engine contract suite in
// engine-contract.test.ts runs against every engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';

const b = (s: string): Buffer => Buffer.from(s);
const keys = (it: Iterable<[Buffer, Buffer]>): string[] => [...it].map(([k]) => k.toString());

test('memory engine: put/get/delete, bounded scans, snapshots', () => {
  const e = new MemoryEngine();
  const batch = new WriteBatch();
  for (const k of ['b', 'a', 'd', 'c']) batch.put(b(k), b(`${k}v`));
  e.write(batch);
  assert.equal(e.get(b('c'))?.toString(), 'cv');
  const snap = e.snapshot();
  e.delete(b('a'));
  e.put(b('e'), b('ev'));
  assert.equal(e.get(b('a')), undefined);
  assert.deepEqual(keys(e.scan()), ['b', 'c', 'd', 'e']);
  assert.deepEqual(keys(snap.scan()), ['a', 'b', 'c', 'd']);
  assert.deepEqual(keys(snap.scan({ gt: b('a'), reverse: true })), ['d', 'c', 'b']);
  assert.deepEqual(keys(e.scan({ gte: b('b'), lt: b('d') })), ['b', 'c']);
  assert.deepEqual(keys(e.scan({ gte: b('b'), lte: b('d'), limit: 2 })), ['b', 'c']);
  snap.release();
  assert.throws(() => snap.get(b('a')));
});

test('memory engine: an overwrite changes the value in place only while no snapshot is open', () => {
  const e = new MemoryEngine();
  e.put(b('a'), b('1'));
  const s = e.snapshot();
  e.put(b('a'), b('2'));
  assert.equal(s.get(b('a'))?.toString(), '1');
  assert.equal(e.get(b('a'))?.toString(), '2');
  s.release();
  s.release(); // twice: counted once
  e.put(b('a'), b('3'));
  const s2 = e.snapshot();
  e.write(new WriteBatch().put(b('a'), b('4')));
  assert.equal(s2.get(b('a'))?.toString(), '3');
  assert.deepEqual(
    [...s2.scan()].map(([, v]) => v.toString()),
    ['3'],
  );
  s2.release();
  e.put(b('a'), b('5'));
  // An iterator keeps the value it found; the engine returns the newest.
  const it = e.iterator({});
  e.put(b('a'), b('6'));
  assert.equal(it.value().toString(), '5');
  it.close();
  assert.equal(e.get(b('a'))?.toString(), '6');
  assert.equal(e.stats().memoryBytes, 2);
  e.delete(b('a'));
  assert.equal(e.get(b('a')), undefined);
  assert.equal(e.stats().memoryBytes, 0);
});
