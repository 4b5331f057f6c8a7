// LSM-specific behaviour beyond the shared contract: group commit, tombstones
// vanishing at the bottom level, snapshots pinning tables through
// compactions, the directory lock, reopen after many flushes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { tinyLsm, tmpDir } from './engines.lib.ts';

const k = (i: number): Buffer => Buffer.from(`k${String(i).padStart(6, '0')}`);

test('group commit: 16 concurrent writers share fsyncs', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs });
  const before = vfs.counts.sync;
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      e.put(k(w * 1000 + i), Buffer.from('v'));
      await e.sync();
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
  const fsyncs = vfs.counts.sync - before;
  // Each of the 50 waves of 16 writers is covered by at most two overlapping rounds: one started at once for
  // the first writer (no round was in flight) and one on the next turn for the other fifteen (wal.ts).
  assert.ok(fsyncs <= 110, `800 acknowledged writes took ${fsyncs} fsyncs`);
  assert.ok(fsyncs >= 50, 'each writer waits for its own durability');
  await e.close();
});

test('sync() with nothing new to make durable resolves without an fsync', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs });
  e.put(k(1), k(1));
  await e.sync();
  const before = vfs.counts.sync;
  await e.sync();
  await e.sync();
  assert.equal(vfs.counts.sync, before);
  await e.close();
});

test('tombstones disappear when compacted into the bottom of the tree', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm, backgroundWork: false });
  for (let i = 0; i < 2000; i++) e.put(k(i), Buffer.alloc(20, 1));
  await e.flush();
  await e.compact();
  for (let i = 0; i < 2000; i++) e.delete(k(i));
  await e.flush();
  for (let round = 0; round < 3; round++) {
    e.put(k(100000 + round), Buffer.alloc(20, 2));
    await e.flush();
  }
  await e.compact();
  const s = e.stats();
  assert.equal([...e.scan()].length, 3);
  // 2000 live entries of ~30 bytes would be ~60 KB; only the three survivors (plus table overhead) remain.
  assert.ok(s.tableBytes! < 8000, `tables hold ${s.tableBytes} bytes: the deletes and what they hid were dropped`);
  await e.close();
});

test('a snapshot keeps reading its tables after compactions replace them', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm, backgroundWork: false });
  for (let i = 0; i < 1000; i++) e.put(k(i), Buffer.from('old'));
  await e.flush();
  const snap = e.snapshot();
  for (let i = 0; i < 1000; i++) e.put(k(i), Buffer.from('new'));
  await e.flush();
  await e.compact();
  assert.equal(snap.get(k(5))?.toString(), 'old');
  assert.equal([...snap.scan()].filter(([, v]) => v.toString() === 'old').length, 1000);
  assert.equal(e.get(k(5))?.toString(), 'new');
  const tablesWhilePinned = vfs.list('/db').filter((f) => f.endsWith('.sst')).length;
  snap.release();
  await e.compact();
  const tablesAfter = vfs.list('/db').filter((f) => f.endsWith('.sst')).length;
  assert.ok(tablesAfter < tablesWhilePinned, `released tables are deleted (${tablesWhilePinned} -> ${tablesAfter})`);
  await e.close();
});

test('an iterator is a consistent view: later writes and flushes do not show through', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm, backgroundWork: false });
  for (let i = 0; i < 100; i++) e.put(k(i), Buffer.from('a'));
  const it = e.iterator();
  for (let i = 0; i < 100; i++) e.put(k(i), Buffer.from('b'));
  e.put(k(5000), Buffer.from('b'));
  await e.flush();
  let n = 0;
  for (; it.valid(); it.next()) {
    assert.equal(it.value().toString(), 'a');
    n++;
  }
  it.close();
  assert.equal(n, 100);
  await e.close();
});

test('the data directory lock keeps a second opener out and is released on close', async () => {
  const dir = await tmpDir();
  try {
    const e = await openLsmEngine({ dir });
    await assert.rejects(openLsmEngine({ dir }), (err: unknown) => {
      assert.ok(err instanceof NextDbError);
      assert.equal(err.message, `data directory ${dir} is locked by process ${process.pid}`);
      assert.equal(err.code, '55P03');
      return true;
    });
    assert.ok(fs.existsSync(`${dir}/LOCK`));
    await e.close();
    const e2 = await openLsmEngine({ dir });
    await e2.close();
    // A LOCK file left by a dead process is taken over.
    fs.writeFileSync(`${dir}/LOCK`, '999999999\n');
    const e3 = await openLsmEngine({ dir });
    await e3.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('many flushes and compactions (worker thread) with background work, then reopen: everything is there', async () => {
  const dir = await tmpDir();
  try {
    const e = await openLsmEngine({ dir, ...tinyLsm });
    for (let i = 0; i < 20000; i++) {
      e.put(k(i % 7000), Buffer.from(`v${i}`));
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await e.compact();
    const s = e.stats();
    assert.ok(s.flushes! > 10 && s.compactions! > 0, JSON.stringify(s));
    assert.equal(s.workerCompactions, s.compactions, 'on the real file system compactions run on the worker thread');
    await e.close();
    // Replaced tables and flushed WAL segments are removed (off the event loop, by NodeVfs.removeInBackground).
    const names = fs.readdirSync(dir);
    assert.equal(names.filter((n) => n.endsWith('.sst')).length, s.tables, names.join(' '));
    assert.equal(names.filter((n) => n.endsWith('.log')).length, 1, names.join(' '));
    const e2 = await openLsmEngine({ dir, ...tinyLsm });
    for (let i = 13000; i < 20000; i++) assert.equal(e2.get(k(i % 7000))?.toString(), `v${i}`);
    assert.equal([...e2.scan()].length, 7000);
    await e2.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('a compaction worker that cannot start: compactions fall back to the event loop one at a time, and the data survives reopen', async () => {
  const dir = await tmpDir();
  try {
    const e = await openLsmEngine({ dir, ...tinyLsm });
    // As when running from sources under a loader the worker cannot use: the first compaction finds no worker
    // and merges on the event loop while flushes go on; no second compaction may pick the same inputs meanwhile.
    (e as unknown as { spawnWorker: () => never }).spawnWorker = () => {
      throw new Error('no worker in this test');
    };
    for (let i = 0; i < 20000; i++) {
      e.put(k(i % 7000), Buffer.from(`v${i}`));
      if (i % 200 === 0) {
        await new Promise((r) => setImmediate(r));
        await e.whenWritable();
      }
    }
    await e.compact();
    const s = e.stats();
    assert.ok(s.compactions! > 5, JSON.stringify(s));
    assert.equal(s.workerCompactions, 0);
    for (let i = 13000; i < 20000; i++) assert.equal(e.get(k(i % 7000))?.toString(), `v${i}`);
    await e.close();
    const e2 = await openLsmEngine({ dir, ...tinyLsm, compactionWorker: false });
    for (let i = 13000; i < 20000; i++) assert.equal(e2.get(k(i % 7000))?.toString(), `v${i}`);
    assert.equal([...e2.scan()].length, 7000);
    await e2.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('operations after close fail clearly; close is idempotent', async () => {
  const e = await openLsmEngine({ dir: '/db', vfs: new SimVfs() });
  await e.close();
  await e.close();
  assert.throws(() => e.get(k(1)), /closed/);
  assert.throws(() => e.put(k(1), k(1)), /closed/);
  await assert.rejects(e.sync(), /closed/);
});

test('values larger than blocks, tables and the memtable round-trip through flush, compaction and reopen', async () => {
  const vfs = new SimVfs();
  const big = (i: number): Buffer => Buffer.alloc(300_000 + i * 1000, i + 1);
  let e = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm });
  for (let i = 0; i < 6; i++) e.put(k(i), big(i));
  assert.ok(e.get(k(3))?.equals(big(3)));
  await e.flush();
  await e.compact();
  assert.ok(e.get(k(4))?.equals(big(4)));
  await e.close();
  e = await openLsmEngine({ dir: '/db', vfs, ...tinyLsm });
  for (let i = 0; i < 6; i++) assert.ok(e.get(k(i))?.equals(big(i)), `value ${i}`);
  assert.equal([...e.scan({ reverse: true })].length, 6);
  await e.close();
});

test('whenWritable() holds a bulk writer back while flushes lag, and lets it go when they catch up', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs, memtableBytes: 2048, maxImmutableMemtables: 1, sliceMs: 1 });
  assert.equal(
    await Promise.race([e.whenWritable().then(() => 'writable'), new Promise((r) => setImmediate(() => r('waiting')))]),
    'writable',
  );
  // Fill several memtables without giving the flush a turn: frozen memtables pile up.
  for (let i = 0; i < 200; i++) e.put(k(i), Buffer.alloc(100, 1));
  assert.ok(e.stats().immutableMemtables! >= 1, 'frozen memtables are waiting for their flush');
  await e.whenWritable();
  assert.ok(e.stats().immutableMemtables! < 1, 'released once the flushes caught up');
  assert.equal(e.get(k(150))?.length, 100);
  await e.close();
});

test('fault injection: a failed WAL fsync fails sync() and every later write (the log state is unknown)', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs });
  e.put(k(1), k(1));
  await e.sync();
  vfs.fault = (op, path) => (op === 'sync' && path.endsWith('.log') ? new Error('EIO: injected') : undefined);
  e.put(k(2), k(2));
  await assert.rejects(e.sync(), (err: unknown) => err instanceof NextDbError && /EIO: injected/.test(err.message));
  vfs.fault = undefined;
  assert.throws(() => e.put(k(3), k(3)), /EIO: injected/);
  await assert.rejects(e.sync(), /EIO: injected/);
  e.abandon();
  // What was acknowledged survives.
  vfs.crash();
  const e2 = await openLsmEngine({ dir: '/db', vfs });
  assert.ok(e2.get(k(1))?.equals(k(1)));
  await e2.close();
});

test('fault injection: a failed flush is reported by flush(); data stays readable and durable, and a retry succeeds', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ dir: '/db', vfs, backgroundWork: false });
  for (let i = 0; i < 100; i++) e.put(k(i), k(i));
  vfs.fault = (op, path) => (op === 'create' && path.endsWith('.sst') ? new Error('ENOSPC: injected') : undefined);
  await assert.rejects(e.flush(), /ENOSPC: injected/);
  vfs.fault = undefined;
  assert.ok(e.get(k(50))?.equals(k(50)), 'the frozen memtable still serves reads');
  await e.sync();
  await e.flush();
  assert.equal(e.stats().level0Tables, 1, 'the retried flush wrote the table');
  await e.close();
  const e2 = await openLsmEngine({ dir: '/db', vfs });
  assert.equal([...e2.scan()].length, 100, 'the WAL still had everything');
  await e2.close();
});

test('the manifest is replaced by a fresh snapshot when it grows past its limit', async () => {
  const vfs = new SimVfs();
  const opts = { dir: '/db', vfs, ...tinyLsm, manifestRotateBytes: 1024 };
  const e = await openLsmEngine(opts);
  for (let i = 0; i < 6000; i++) {
    e.put(k(i % 2500), Buffer.from(`v${i}`));
    if (i % 300 === 0) await new Promise((r) => setImmediate(r));
  }
  await e.compact();
  await e.flush();
  assert.ok(e.stats().manifestRotations! > 0, JSON.stringify(e.stats()));
  assert.equal(vfs.list('/db').filter((f) => f.startsWith('MANIFEST-')).length, 1);
  await e.close();
  const e2 = await openLsmEngine(opts);
  for (let i = 3500; i < 6000; i++) assert.equal(e2.get(k(i % 2500))?.toString(), `v${i}`);
  await e2.close();
});

test('iterating a large live memtable across fetch batches while it changes yields exactly the view at creation', async () => {
  const e = await openLsmEngine({ dir: '/db', vfs: new SimVfs(), backgroundWork: false });
  for (let i = 0; i < 1000; i += 2) e.put(k(i), Buffer.from(`a${i}`));
  for (const reverse of [false, true]) {
    const it = e.iterator({ reverse, gte: k(100), lt: k(900) });
    const seen: string[] = [];
    let n = 0;
    for (; it.valid(); it.next()) {
      seen.push(`${it.key().toString()}=${it.value().toString()}`);
      // Writes during the iteration: new keys in between, overwrites and deletes ahead of the cursor.
      const j = reverse ? 900 - n * 2 : 100 + n * 2;
      e.put(k(j + 1), Buffer.from('new'));
      e.put(k(reverse ? j - 10 : j + 10), Buffer.from('overwritten'));
      e.delete(k(reverse ? j - 20 : j + 20));
      n++;
    }
    it.close();
    const expected: string[] = [];
    for (let i = 100; i < 900; i += 2) expected.push(`${k(i).toString()}=a${i}`);
    if (reverse) expected.reverse();
    assert.deepEqual(seen, expected, reverse ? 'reverse' : 'forward');
    // Restore for the next direction.
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) e.put(k(i), Buffer.from(`a${i}`));
      else e.delete(k(i));
    }
  }
  await e.close();
});
