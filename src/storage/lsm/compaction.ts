/**
 * Running a merge (memtable flush or compaction) into new SSTables, in small
 * time slices on the event loop so that reads and writes keep flowing: after
 * every slice of `sliceMs` the job yields with setImmediate. (A worker thread
 * would need its own file handles and a second copy of the Vfs, which the
 * in-memory crash-simulating Vfs cannot share; slicing keeps one Vfs and
 * bounds read latency by the slice length.)
 *
 * Garbage collection while merging, per user key, entries newest first:
 *   - an entry is dropped when a newer entry of the same key has
 *     seq <= smallestSnapshot: every reader sees the newer one instead;
 *   - a tombstone with seq <= smallestSnapshot is dropped when no deeper
 *     level holds the key (`isBaseLevel`): nothing older remains for it to
 *     hide, so at the bottom of the tree deletes disappear.
 *
 * Output tables are cut at `targetFileBytes`, only between user keys, so all
 * versions of a key stay in one table (the level invariant of version.ts).
 * Every output is synced and closed before the caller logs it in the manifest.
 */

import type { Vfs } from '../vfs.ts';
import { vfsJoin } from '../vfs.ts';
import { OpKind } from '../write-batch.ts';
import type { BlockCache } from './block-cache.ts';
import type { EntryCursor } from './sstable-reader.ts';
import { SstableReader } from './sstable-reader.ts';
import { SstableBuilder, type TableOptions } from './sstable-builder.ts';
import { sstFileName } from './sstable-format.ts';
import { FileMeta } from './version.ts';

export interface MergeJob {
  readonly vfs: Vfs;
  readonly dir: string;
  readonly cache: BlockCache;
  readonly tableOptions: TableOptions;
  readonly targetFileBytes: number;
  readonly smallestSnapshot: number;
  readonly isBaseLevel: (key: string) => boolean;
  readonly newFileNumber: () => number;
  /** 0 runs without yielding (recovery). */
  readonly sliceMs: number;
  /** Polled between slices; true abandons the job (engine closing). */
  readonly cancelled: () => boolean;
  /** Open a reader on each output (false in the compaction worker, whose outputs the engine opens). */
  readonly openOutputs?: boolean;
}

/** A forward merge source: InternalMerge or a single cursor. */
export interface ForwardEntries {
  readonly cur: EntryCursor | undefined;
  next(): void;
}

export class JobCancelled extends Error {}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runMerge(job: MergeJob, input: ForwardEntries): Promise<FileMeta[]> {
  const outputs: FileMeta[] = [];
  let builder: SstableBuilder | undefined;
  let builderNumber = 0;
  let lastAdded: string | undefined;
  let curKey: string | undefined;
  let lastSeqForKey = Infinity;
  let sliceStart = performance.now();
  let n = 0;

  const finishTable = async (): Promise<void> => {
    if (builder === undefined) return;
    const b = builder;
    builder = undefined;
    const path = vfsJoin(job.dir, sstFileName(builderNumber));
    const file = b.file;
    const info = b.finish();
    await file.sync();
    file.close();
    const meta = new FileMeta(builderNumber, info.size, info.entries, info.smallest, info.largest);
    if (job.openOutputs !== false) meta.reader = SstableReader.open(job.vfs, path, builderNumber, job.cache);
    outputs.push(meta);
  };

  try {
    for (let c = input.cur; c !== undefined; input.next(), c = input.cur) {
      const key = c.key();
      const seq = c.seq();
      const kind = c.kind();
      if (key !== curKey) {
        curKey = key;
        lastSeqForKey = Infinity;
      }
      let drop = false;
      if (lastSeqForKey <= job.smallestSnapshot) drop = true;
      else if (kind === OpKind.delete && seq <= job.smallestSnapshot && job.isBaseLevel(key)) drop = true;
      lastSeqForKey = seq;
      if (!drop) {
        if (builder !== undefined && key !== lastAdded && builder.estimatedBytes() >= job.targetFileBytes)
          await finishTable();
        if (builder === undefined) {
          builderNumber = job.newFileNumber();
          builder = new SstableBuilder(job.vfs.create(vfsJoin(job.dir, sstFileName(builderNumber))), job.tableOptions);
        }
        builder.add(key, seq, kind, c.value());
        lastAdded = key;
      }
      if (job.sliceMs > 0 && (++n & 127) === 0 && performance.now() - sliceStart >= job.sliceMs) {
        await yieldTurn();
        if (job.cancelled()) throw new JobCancelled('merge cancelled');
        sliceStart = performance.now();
      }
    }
    await finishTable();
    // The new tables' directory entries must be durable before the manifest names them.
    if (outputs.length > 0) await job.vfs.syncDir(job.dir);
  } catch (err) {
    // Leave no half-written tables behind (they are not in the manifest; this just tidies up).
    for (const o of outputs) o.reader?.close();
    if (builder !== undefined) builder.file.close();
    throw err;
  }
  return outputs;
}
