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
