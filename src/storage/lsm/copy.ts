/**
 * writeLsmCopy: the entries of a consistent view (a snapshot) written into a
 * new LSM data directory, 1,000 per batch, flushed and closed: a logical
 * backup. Engine.checkpoint uses it where the source is not an LSM tree whose
 * tables can be linked (the memory engine; a cluster node's replicated
 * keyspace, which lives beside replica-local keys in one engine).
 *
 * The copy is built in a staging subdirectory and its files are moved up
 * into `dir` only once it is complete, CURRENT last: an LSM directory is a
 * database as soon as CURRENT names a manifest, so a copy that failed or was
 * cut by a crash midway must never have one in `dir`.
 */

import fs from 'node:fs';
import type { CheckpointInfo, Reader, ScanBounds } from '../engine.ts';
import { NodeVfs } from '../node-vfs.ts';
import { vfsJoin } from '../vfs.ts';
import { WriteBatch } from '../write-batch.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { openLsmEngine } from './lsm-engine.ts';

const BATCH_ENTRIES = 1000;
/** The subdirectory of the target where the copy is built. */
const STAGING = '.nextdb-copy-partial';

/** Writes every entry of `view` within `bounds` into a new LSM directory `dir` (absent or empty). */
export async function writeLsmCopy(view: Reader, dir: string, bounds: ScanBounds = {}): Promise<CheckpointInfo> {
  const vfs = new NodeVfs();
  if (vfs.exists(dir) && vfs.list(dir).length > 0)
    throw new NextDbError(SqlState.duplicateFile, `checkpoint directory ${dir} is not empty`);
  const staging = vfsJoin(dir, STAGING);
  try {
    const out = await openLsmEngine({ dir: staging, vfs });
    try {
      let batch = new WriteBatch();
      for (const [k, v] of view.scan(bounds)) {
        batch.put(k, v);
        if (batch.length < BATCH_ENTRIES) continue;
        out.write(batch);
        batch = new WriteBatch();
        await out.whenWritable();
      }
      if (batch.length > 0) out.write(batch);
      await out.flush();
    } finally {
      await out.close();
    }
    // Complete: every file up into dir, durably, then CURRENT.
    for (const n of vfs.list(staging)) {
      if (n !== 'CURRENT' && n !== 'LOCK') vfs.rename(vfsJoin(staging, n), vfsJoin(dir, n));
    }
    await vfs.syncDir(dir);
    vfs.rename(vfsJoin(staging, 'CURRENT'), vfsJoin(dir, 'CURRENT'));
    await vfs.syncDir(dir);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  let bytes = 0;
  const names = vfs.list(dir).filter((n) => n !== 'LOCK');
  for (const n of names) bytes += fs.statSync(vfsJoin(dir, n)).size;
  return { dir, files: names.length, bytes, linked: 0 };
}
