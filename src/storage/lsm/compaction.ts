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
import { toLatin1 } from '../../util/bytes.ts';
import { OpKind } from '../write-batch.ts';
import type { BlockCache } from './block-cache.ts';
import type { Memtable } from './memtable.ts';
import type { InternalMerge } from './merge-iterator.ts';
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

export class JobCancelled extends Error {}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The output side of a merge: the table being built, cut at the job's target
 * size, and every table finished so far; plus the job's time slicing.
 */
class MergeOutput {
  readonly tables: FileMeta[] = [];
  private builder: SstableBuilder | undefined = undefined;
  private number = 0;
  private sliceStart = performance.now();
  private n = 0;

  constructor(private readonly job: MergeJob) {}

  /** Whether the table being built must end before the next entry; `newKey`: that entry starts a user key. */
  full(newKey: boolean): boolean {
    return this.builder !== undefined && newKey && this.builder.estimatedBytes() >= this.job.targetFileBytes;
  }

  /** The builder for the next entry (a new table if none is open). */
  get table(): SstableBuilder {
    if (this.builder === undefined) {
      const job = this.job;
      this.number = job.newFileNumber();
      this.builder = new SstableBuilder(job.vfs.create(vfsJoin(job.dir, sstFileName(this.number))), job.tableOptions);
    }
    return this.builder;
  }

  /** After every entry read: yields to the event loop once a slice of sliceMs is used up. */
  tick(): Promise<void> | undefined {
    const job = this.job;
    if (job.sliceMs > 0 && (++this.n & 127) === 0 && performance.now() - this.sliceStart >= job.sliceMs)
      return this.yield();
    return undefined;
  }

  private async yield(): Promise<void> {
    await yieldTurn();
    if (this.job.cancelled()) throw new JobCancelled('merge cancelled');
    this.sliceStart = performance.now();
  }

  async finishTable(): Promise<void> {
    if (this.builder === undefined) return;
    const job = this.job;
    const b = this.builder;
    this.builder = undefined;
    const path = vfsJoin(job.dir, sstFileName(this.number));
    const file = b.file;
    const info = b.finish();
    await file.sync();
    file.close();
    const meta = new FileMeta(this.number, info.size, info.entries, info.smallest, info.largest);
    if (job.openOutputs !== false) meta.reader = SstableReader.open(job.vfs, path, this.number, job.cache);
    this.tables.push(meta);
  }

  async finish(): Promise<FileMeta[]> {
    await this.finishTable();
    // The new tables' directory entries must be durable before the manifest names them.
    if (this.tables.length > 0) await this.job.vfs.syncDir(this.job.dir);
    return this.tables;
  }

  /** Leaves no half-written tables behind (they are not in the manifest; this just tidies up). */
  abort(): void {
    for (const o of this.tables) o.reader?.close();
    if (this.builder !== undefined) this.builder.file.close();
  }
}

export async function runMerge(job: MergeJob, input: InternalMerge): Promise<FileMeta[]> {
  const out = new MergeOutput(job);
  // The current user key (prev[0, prevLen); -1: none yet) and whether an entry of it went to the output.
  let prev: Buffer = Buffer.allocUnsafe(64);
  let prevLen = -1;
  let addedForKey = false;
  let lastSeqForKey = Infinity;
  try {
    for (let c = input.cur; c !== undefined; input.next(), c = input.cur) {
      const key = c.key;
      const klen = c.keyLen;
      const seq = c.seq;
      const kind = c.kind;
      let same = klen === prevLen;
      for (let i = 0; same && i < klen; i++) same = key[i] === prev[i];
      if (!same) {
        if (klen > prev.length) prev = Buffer.allocUnsafe(Math.max(klen, 2 * prev.length));
        for (let i = 0; i < klen; i++) prev[i] = key[i]!;
        prevLen = klen;
        lastSeqForKey = Infinity;
        addedForKey = false;
      }
      let drop = false;
      if (lastSeqForKey <= job.smallestSnapshot) drop = true;
      else if (kind === OpKind.delete && seq <= job.smallestSnapshot && job.isBaseLevel(toLatin1(key, 0, klen)))
        drop = true;
      lastSeqForKey = seq;
      if (!drop) {
        if (out.full(!addedForKey)) await out.finishTable();
        out.table.addBytes(key, 0, klen, seq, kind, c.data, c.valueStart, c.valueEnd - c.valueStart, -1, c.view);
        addedForKey = true;
      }
      const pause = out.tick();
      if (pause !== undefined) await pause;
    }
    return await out.finish();
  } catch (err) {
    out.abort();
    throw err;
  }
}

/**
 * Flushes a frozen memtable (which must not change meanwhile) into tables:
 * the merge of runMerge with the memtable's versions as its only input,
 * handed to the builder as bytes in the memtable's arena (no latin1 key, no
 * value view, no bloom hash per entry: the memtable computed it on insert).
 * Tombstones are kept (a flush writes L0, above every other table).
 */
/**
 * Keys a flush touches ahead (Memtable.touch) before building them: their
 * memtable lines, about five per key, stay in the L1/L2 caches until used.
 */
const TOUCH_BATCH = 32;
/** Where the flush leaves what Memtable.touch returns (nothing reads it). */
let _touched = 0;

export async function flushMemtable(job: MergeJob, mem: Memtable): Promise<FileMeta[]> {
  const out = new MergeOutput(job);
  const keys = mem.tree.toArray();
  try {
    for (let i = 0; i < keys.length; i++) {
      if ((i & (TOUCH_BATCH - 1)) === 0) _touched += mem.touch(keys, i, Math.min(i + TOUCH_BATCH, keys.length));
      const k = keys[i]!;
      const kb = mem.keyChunk(k);
      const koff = mem.keyOff(k);
      const klen = mem.keyLen(k);
      const hash = mem.keyHash(k);
      let newKey = true;
      for (let v = mem.head(k); v >= 0; v = mem.older(v)) {
        if (out.full(newKey)) await out.finishTable();
        const seq = mem.seq(v);
        out.table.addBytes(
          kb,
          koff,
          klen,
          seq,
          mem.kind(v),
          mem.valueChunk(v),
          mem.valueOff(v),
          mem.valueLen(v),
          hash,
          mem.valueView(v),
        );
        newKey = false;
        // Every older version is shadowed by this one for every reader.
        if (seq <= job.smallestSnapshot) break;
      }
      const pause = out.tick();
      if (pause !== undefined) await pause;
    }
    return await out.finish();
  } catch (err) {
    out.abort();
    throw err;
  }
}
