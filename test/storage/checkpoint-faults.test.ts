// Engine.checkpoint under faults: a power loss at any step of an LSM
// checkpoint, and a logical copy (writeLsmCopy: the memory engine's and a
// cluster node's backup) that fails midway. The target must never look like
// a valid but incomplete database: either it does not open, or it holds
// everything of the checkpoint's moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { writeLsmCopy } from '../../src/storage/lsm/copy.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { SimVfs } from '../../src/storage/sim-vfs.ts';
import type { Engine, Reader, ScanOptions } from '../../src/storage/engine.ts';
import { tinyLsm, tmpDir } from './engines.lib.ts';
import { contents, key, val } from './checkpoint.lib.ts';

/** A source database on a fresh SimVfs: tables on several levels plus a memtable. */
async function source(
  seed: number,
): Promise<{ vfs: SimVfs; e: Awaited<ReturnType<typeof openLsmEngine>>; before: Map<string, string> }> {
  const vfs = new SimVfs({ seed });
  const e = await openLsmEngine({ ...tinyLsm, dir: '/db', vfs });
  for (let i = 0; i < 1500; i++) e.put(key(i), val(i));
  await e.flush();
  await e.compact();
  for (let i = 0; i < 1500; i += 5) e.put(key(i), val(i, 1));
  return { vfs, e, before: contents(e) };
}

test('LSM checkpoint: a power loss at any step leaves a target that does not open or holds everything', async () => {
  // How many file system operations the checkpoint makes in its target.
  const probe = await source(3);
  let steps = 0;
  probe.vfs.fault = (_op, p) => {
    if (p.startsWith('/backup')) steps++;
    return undefined;
  };
  await probe.e.checkpoint!('/backup');
  probe.vfs.fault = undefined;
  await probe.e.close();
  assert.ok(steps > 5, `${steps} steps`);

  let opened = 0;
  let incomplete = 0; // refused to open, or an empty directory (nothing of the copy durable)
  for (let k = 1; k <= steps + 1; k++) {
    const { vfs, e, before } = await source(3);
    let n = 0;
    vfs.fault = (_op, p) => {
      if (!p.startsWith('/backup') || ++n !== k) return undefined;
      vfs.fault = undefined;
      vfs.crash();
      return new Error('simulated power loss');
    };
    await e.checkpoint!('/backup').catch(() => undefined);
    vfs.fault = undefined;
    await e.close().catch(() => undefined);
    if (k > steps) vfs.crash(); // the checkpoint returned: a power loss after it
    let b: Engine;
    try {
      b = await openLsmEngine({ ...tinyLsm, dir: '/backup', vfs });
    } catch {
      incomplete++;
      continue;
    }
    const got = contents(b);
    await b.close();
    // An empty directory opens as a new, empty database: that is not a copy that looks complete.
    if (got.size === 0 && k <= steps) {
      incomplete++;
      continue;
    }
    assert.deepEqual(got, before, `power loss before step ${k} of ${steps}: the target opens but differs`);
    opened++;
  }
  assert.ok(incomplete > 0 && opened > 0, `incomplete ${incomplete}, opened ${opened}`);
});

/** A view that fails after `failAfter` entries, as a source read hitting a damaged block or a closing engine. */
function failingView(from: Reader, failAfter: number): Reader {
  return {
    get: (k) => from.get(k),
    iterator: (o?: ScanOptions) => from.iterator(o),
    *scan(o?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
      let n = 0;
      for (const entry of from.scan(o)) {
        if (n++ === failAfter) throw new Error('source read failed');
        yield entry;
      }
    },
  };
}

test('writeLsmCopy failing midway leaves no database in the target (no CURRENT), and the directory can be reused', async () => {
  const dir = await tmpDir('nextdb-h4-copy-');
  try {
    const m = new MemoryEngine();
    for (let i = 0; i < 5000; i++) m.put(key(i), val(i));
    const snap = m.snapshot();
    const target = path.join(dir, 'b');
    try {
      await assert.rejects(writeLsmCopy(failingView(snap, 2500), target), /source read failed/);
    } finally {
      snap.release();
    }
    assert.ok(!fs.existsSync(path.join(target, 'CURRENT')), 'a failed copy must not name a manifest in CURRENT');
    // The same directory works for the next attempt.
    const info = await m.checkpoint(target);
    assert.ok(info.files >= 3, JSON.stringify(info));
    const b = await openLsmEngine({ dir: target });
    assert.deepEqual(contents(b), contents(m));
    await b.close();
    await m.close();
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('LSM checkpoints racing worker compactions on the real file system: each copy is a gapless prefix of the writes', async () => {
  const dir = await tmpDir('nextdb-h4-race-');
  try {
    const e = await openLsmEngine({ ...tinyLsm, dir: path.join(dir, 'db') });
    let written = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        for (let j = 0; j < 50; j++) e.put(key(written + j), val(written + j));
        written += 50;
        await e.whenWritable();
        await new Promise((r) => setImmediate(r));
      }
    })();
    const copies: { dir: string; atCall: number }[] = [];
    for (let c = 0; c < 4; c++) {
      while (written < (c + 1) * 3000) await new Promise((r) => setTimeout(r, 5));
      const d = path.join(dir, `copy${c}`);
      copies.push({ dir: d, atCall: written });
      await e.checkpoint!(d);
    }
    stop = true;
    await writer;
    const stats = e.stats();
    await e.close();
    for (const { dir: d, atCall } of copies) {
      const b = await openLsmEngine({ dir: d });
      let n = 0;
      for (const [k, v] of b.scan()) {
        assert.equal(k.toString(), key(n).toString(), `${d}: a gap before ${k.toString()}`);
        assert.equal(v.toString(), val(n).toString());
        n++;
      }
      await b.close();
      assert.ok(n >= atCall && n <= written, `${d}: ${n} entries, ${atCall} written before the call`);
    }
    assert.ok((stats['compactions'] ?? 0) + (stats['workerCompactions'] ?? 0) > 0, JSON.stringify(stats));
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('checkpoint then close at once, and checkpoint after a background failure: never a partial copy', async () => {
  // close() right after the call: the checkpoint either completes (close waits for it) or is refused, and
  // a refused one leaves no database in the target.
  {
    const { vfs, e, before } = await source(5);
    const p = e.checkpoint!('/backup');
    const closed = e.close();
    const r = await Promise.allSettled([p, closed]);
    assert.equal(r[1]!.status, 'fulfilled');
    vfs.crash();
    if (r[0]!.status === 'fulfilled') {
      const b = await openLsmEngine({ ...tinyLsm, dir: '/backup', vfs });
      assert.deepEqual(contents(b), before);
      await b.close();
    } else assert.ok(!vfs.exists('/backup/CURRENT'), String(r[0]!.reason));
  }
  // A flush that fails (EIO syncing a new table) stops background work: a checkpoint is refused with that
  // error and writes nothing that opens.
  {
    const { vfs, e } = await source(6);
    vfs.fault = (op, p) => (op === 'sync' && p.endsWith('.sst') ? new Error('EIO: simulated') : undefined);
    for (let i = 0; i < 3000; i++) {
      try {
        e.put(key(20000 + i), val(i));
      } catch {
        break; // writes refused once the failure is seen
      }
      if (i % 100 === 0) await e.whenWritable().catch(() => undefined);
    }
    await assert.rejects(e.checkpoint!('/backup'), /simulated/);
    vfs.fault = undefined;
    assert.ok(!vfs.exists('/backup/CURRENT'));
    await e.close().catch(() => undefined);
  }
});
