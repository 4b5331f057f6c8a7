// Engine.checkpoint: a consistent copy of a live database in a new
// directory, which opens as an ordinary data directory. Checked: every
// write made before the call is in it; writes racing it appear as a prefix
// (one moment, never a later write without an earlier one); it survives the
// source compacting away its tables, the source being deleted, and a
// simulated power loss after it returned; a non-empty target is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { tinyLsm, tmpDir } from './engines.lib.ts';
import { contents, key, val } from './checkpoint.lib.ts';

test('LSM checkpoint on SimVfs: all earlier writes, racing writes as a prefix, survives compaction, deletion and a crash', async () => {
  const vfs = new SimVfs({ seed: 7 });
  const e = await openLsmEngine({ ...tinyLsm, dir: '/db', vfs });
  for (let i = 0; i < 3000; i++) e.put(key(i), val(i));
  for (let i = 0; i < 3000; i += 7) e.delete(key(i));
  await e.flush();
  for (let i = 0; i < 3000; i += 3) e.put(key(i), val(i, 1)); // some in the memtable only
  const before = contents(e);
  // Writers racing the checkpoint: key(10000 + j) in order.
  let racing = 0;
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      e.put(key(10000 + racing), val(racing));
      racing++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const info = await e.checkpoint!('/backup');
  stop = true;
  await writer;
  assert.ok(info.files >= 3 && info.bytes > 0 && info.linked === info.files - 2, JSON.stringify(info));
  // The source goes on: overwrite, compact (its old tables go), close, delete its directory.
  for (let i = 0; i < 3000; i++) e.put(key(i), val(i, 2));
  await e.flush();
  await e.compact();
  await e.close();
  for (const n of vfs.list('/db')) vfs.remove(`/db/${n}`);
  vfs.crash();
  const b = await openLsmEngine({ ...tinyLsm, dir: '/backup', vfs });
  const got = contents(b);
  await b.close();
  const raced = [...got.keys()].filter((k) => k >= 'key010000').length;
  for (const [k, v] of before) assert.equal(got.get(k), v, `${k} as before the checkpoint`);
  for (let j = 0; j < raced; j++) assert.equal(got.get(key(10000 + j).toString()), val(j).toString());
  assert.equal(got.size, before.size + raced, 'nothing else: a prefix of the racing writes');
  assert.ok(raced <= racing);
});

test('checkpoint into a non-empty directory is refused (58P02); an empty one is fine', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ ...tinyLsm, dir: '/db', vfs });
  e.put(key(1), val(1));
  vfs.mkdir('/full');
  vfs.create('/full/x').close();
  await assert.rejects(e.checkpoint!('/full'), (err: unknown) => err instanceof NextDbError && err.code === '58P02');
  await assert.rejects(e.checkpoint!('/db'), (err: unknown) => err instanceof NextDbError && err.code === '58P02');
  vfs.mkdir('/empty');
  await e.checkpoint!('/empty');
  await e.close();
  const b = await openLsmEngine({ dir: '/empty', vfs });
  assert.equal(b.get(key(1))?.toString(), val(1).toString());
  await b.close();
});

test('LSM checkpoint on the real file system: tables hard-linked, the copy opens while the source keeps writing', async () => {
  const dir = await tmpDir('nextdb-ckpt-');
  try {
    const src = path.join(dir, 'db');
    const dst = path.join(dir, 'backup');
    const e = await openLsmEngine({ ...tinyLsm, dir: src });
    for (let i = 0; i < 5000; i++) e.put(key(i), val(i));
    const before = contents(e);
    const info = await e.checkpoint!(dst);
    assert.ok(info.linked > 0 && info.linked === info.files - 2, JSON.stringify(info));
    const table = fs.readdirSync(dst).find((n) => n.endsWith('.sst'))!;
    assert.ok(fs.statSync(path.join(dst, table)).nlink >= 2 || !fs.existsSync(path.join(src, table)), 'a hard link');
    for (let i = 0; i < 5000; i++) e.delete(key(i));
    await e.flush();
    await e.compact();
    const b = await openLsmEngine({ dir: dst });
    assert.deepEqual(contents(b), before);
    await b.close();
    await e.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('MemoryEngine checkpoint: an LSM data directory holding the snapshot', async () => {
  const dir = await tmpDir('nextdb-ckpt-');
  try {
    const m = new MemoryEngine();
    for (let i = 0; i < 4000; i++) m.put(key(i), val(i));
    m.delete(key(5));
    const before = contents(m);
    const info = await m.checkpoint(path.join(dir, 'b'));
    assert.ok(info.files >= 3 && info.bytes > 0, JSON.stringify(info));
    m.put(key(99999), val(1));
    const b = await openLsmEngine({ dir: path.join(dir, 'b') });
    assert.deepEqual(contents(b), before);
    await b.close();
    await m.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('a checkpoint that fails halfway leaves its directory empty for a retry; two at once into one directory: one is 58P02', async () => {
  const vfs = new SimVfs();
  const e = await openLsmEngine({ ...tinyLsm, dir: '/db', vfs });
  for (let i = 0; i < 3000; i++) e.put(key(i), val(i));
  await e.flush();
  let links = 0;
  vfs.fault = (op) => (op === 'link' && ++links === 3 ? new Error('EIO: injected link failure') : undefined);
  await assert.rejects(e.checkpoint!('/b'), /injected link failure/);
  vfs.fault = undefined;
  assert.deepEqual(vfs.list('/b'), [], 'nothing left behind');
  await e.checkpoint!('/b');
  const both = await Promise.allSettled([e.checkpoint!('/c'), e.checkpoint!('/c')]);
  assert.equal(both.filter((r) => r.status === 'fulfilled').length, 1);
  const failed = both.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.ok(failed.reason instanceof NextDbError && failed.reason.code === '58P02', String(failed.reason));
  const before = contents(e);
  await e.close();
  for (const d of ['/b', '/c']) {
    const b = await openLsmEngine({ ...tinyLsm, dir: d, vfs });
    assert.deepEqual(contents(b), before);
    await b.close();
  }
});
