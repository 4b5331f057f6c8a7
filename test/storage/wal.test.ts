// WAL group commit when fdatasyncs finish out of order (SimVfs.syncGate holds
// chosen syncs back, as a slow fsync would): within one segment a later round
// acknowledges the writers of an earlier one still in flight; across a
// rotation nothing is acknowledged before the round that syncs the older
// segment, and after a crash everything acknowledged is there. Segments whose
// memtable was flushed are closed without a sync. Replay stops at a gap in
// sequence numbers between segments (an older segment cut at a record boundary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { tinyLsm } from './engines.lib.ts';
import { replayWal, replayWalSegment, Wal, walFileName } from '../../src/storage/lsm/wal.ts';
import { OpKind } from '../../src/storage/write-batch.ts';

const key = (seq: number): Buffer => Buffer.from(`k${seq}`);

function addPut(wal: Wal, seq: number): void {
  wal.addOne(seq, OpKind.put, key(seq), Buffer.from('v'));
}

/** A promise whose resolution the test controls. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function track(p: Promise<void>): { done: boolean } {
  const state = { done: false };
  void p.then(() => (state.done = true));
  return state;
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Sequence numbers that survive a crash now, over the segments in order, stopping at a torn one. */
function durableSeqs(vfs: SimVfs, numbers: number[]): number[] {
  vfs.crash();
  const seqs: number[] = [];
  for (const n of numbers) {
    const path = `/db/${walFileName(n)}`;
    if (!vfs.exists(path)) break;
    const { torn } = replayWalSegment(vfs.readAll(path), path, (seq) => seqs.push(seq));
    if (torn) break;
  }
  return seqs;
}

test('a round that finishes first acknowledges the writers of an earlier round of the same segment', async () => {
  const vfs = new SimVfs();
  vfs.mkdir('/db');
  const wal = new Wal(vfs, '/db', 1);
  addPut(wal, 1);
  await wal.sync(); // the first round also syncs the directory
  const slow = gate();
  let held = 0;
  vfs.syncGate = () => (held++ === 0 ? slow.promise : undefined);
  addPut(wal, 2);
  const first = track(wal.sync()); // starts at once, and is held
  addPut(wal, 3);
  const second = track(wal.sync()); // a second round on the next turn, not held
  await turns(5);
  assert.equal(held, 2, 'two rounds were started');
  assert.ok(second.done, 'the later round finished');
  assert.ok(first.done, "its fdatasync covered the earlier round's bytes, so that round's writer is acknowledged");
  const closed = track(wal.close());
  await turns(5);
  assert.ok(!closed.done, 'close waits for the held fdatasync before closing the segment under it');
  slow.open();
  await turns(5);
  assert.ok(closed.done);
  assert.deepEqual(durableSeqs(vfs, [1]), [1, 2, 3]);
});

test('across a rotation, no round is acknowledged before the round that syncs the older segment', async () => {
  const vfs = new SimVfs();
  vfs.mkdir('/db');
  const wal = new Wal(vfs, '/db', 1);
  addPut(wal, 1);
  await wal.sync();
  const slow = gate();
  vfs.syncGate = (path) => (path.endsWith(walFileName(1)) ? slow.promise : undefined);
  addPut(wal, 2);
  const a = track(wal.sync()); // syncs segment 1: held
  wal.rotate(2);
  addPut(wal, 3);
  const b = track(wal.sync()); // next turn: segment 1 again (held), segment 2 and the directory
  await turns(3);
  addPut(wal, 4);
  const c = track(wal.sync()); // segment 2 only: finishes
  await turns(5);
  assert.ok(vfs.counts.sync >= 4, 'rounds b and c were started');
  assert.deepEqual([a.done, b.done, c.done], [false, false, false], 'segment 1 is not durable yet');
  slow.open();
  await turns(5);
  assert.deepEqual([a.done, b.done, c.done], [true, true, true]);
  assert.deepEqual(durableSeqs(vfs, [1, 2]), [1, 2, 3, 4]);
});

test('segments whose memtable was flushed are not synced again: the next sync covers only live segments', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm, backgroundWork: false });
  await e.sync();
  // A bulk load without syncs: several memtables, each rotated to a new segment, then flushed to tables.
  for (let i = 0; i < 2000; i++) e.put(Buffer.from(`key${i}`), Buffer.alloc(40, i));
  await e.flush();
  const synced: string[] = [];
  vfs.syncGate = (path) => {
    synced.push(path);
    return undefined;
  };
  e.put(Buffer.from('last'), Buffer.from('v'));
  await e.sync();
  const logs = synced.filter((p) => p.endsWith('.log'));
  assert.equal(logs.length, 1, `one segment synced, not the flushed ones: ${logs.join(' ')}`);
  assert.ok(vfs.exists(logs[0]!), 'the live segment');
  e.abandon();
  vfs.crash();
  const e2 = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm, backgroundWork: false });
  assert.equal(e2.get(Buffer.from('last'))?.toString(), 'v');
  assert.equal(e2.get(Buffer.from('key1999'))?.length, 40);
  await e2.close();
});

test('replay stops where an older segment lost its tail at a record boundary and a later segment was synced', async () => {
  const vfs = new SimVfs();
  vfs.mkdir('/db');
  const wal = new Wal(vfs, '/db', 1);
  addPut(wal, 1);
  addPut(wal, 2);
  await wal.sync();
  const cut = vfs.rawBytes(`/db/${walFileName(1)}`).length;
  addPut(wal, 3);
  wal.rotate(2);
  addPut(wal, 4);
  addPut(wal, 5);
  await wal.close();
  const replayed = (): number[] => {
    const seqs: number[] = [];
    const last = replayWal(vfs, '/db', [1, 2], (seq) => seqs.push(seq));
    assert.equal(last, seqs.at(-1) ?? 0);
    return seqs;
  };
  assert.deepEqual(replayed(), [1, 2, 3, 4, 5]);
  // The crash kept segment 1 only up to a record boundary (it looks whole) and all of segment 2, whose own
  // fdatasync finished first: recovering 4 and 5 without 3 would be no prefix of the writes.
  vfs.truncate(`/db/${walFileName(1)}`, cut);
  assert.deepEqual(replayed(), [1, 2]);
});
