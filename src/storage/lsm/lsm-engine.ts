/**
 * LsmEngine: the Engine contract over a log-structured merge tree.
 *
 *   write ──► WAL (buffered; group-commit fsync on sync()) ──► memtable
 *                                                               │ full
 *                                         frozen memtables ◄────┘
 *                                               │ flush (background)
 *   read ──► memtable ─► frozen ─► L0 (newest first) ─► L1 ─► ... ─► L6
 *                                               │ leveled compaction (background)
 *
 * Sequence numbers: every put/delete gets the next number (a batch gets a
 * consecutive run). A snapshot is a sequence number plus the memtables and
 * the Version it started with (reference-counted, so its tables outlive
 * compactions); it sees exactly the writes numbered <= its sequence.
 *
 * Reads are synchronous: memtable lookups, then per table a key-range check,
 * the bloom filter, the index and one block (block cache or a synchronous
 * read). Writes are synchronous and visible at once; durability comes from
 * sync(), which shares one fsync among all concurrent callers.
 *
 * Background work (flushes first, then compactions) runs one job at a time
 * on a promise chain, in time slices (compaction.ts). Explicit flush() and
 * compact() queue on the same chain. A failed background job (I/O error,
 * corruption) poisons the engine: later writes and syncs throw that error.
 *
 * Recovery on open (see docs/internals/storage.md): take the LOCK, read
 * CURRENT and replay the manifest, open every table (footer/index/bloom
 * checksums), replay WAL segments from the manifest's log number on, stopping
 * at the first torn record, flush what was replayed into an L0 table, write a
 * fresh manifest and switch CURRENT to it, delete obsolete files, start a new
 * WAL segment.
 */

import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { NextDbError, SqlState, CorruptionError } from '../../util/errors.ts';
import { toLatin1 } from '../../util/bytes.ts';
import { assert } from '../../util/assert.ts';
import type { CheckpointInfo, Engine, EngineIterator, EngineStats, ScanOptions, Snapshot } from '../engine.ts';
import { scanIterator } from '../engine.ts';
import type { Vfs, VfsLock } from '../vfs.ts';
import { vfsJoin } from '../vfs.ts';
import { NodeVfs } from '../node-vfs.ts';
import { OpKind, type WriteBatch } from '../write-batch.ts';
import { BlockCache } from './block-cache.ts';
import { bloomHash } from './bloom.ts';
import { pickCompaction, type PickerOptions } from './compaction-picker.ts';
import { flushMemtable, JobCancelled, runMerge, type MergeJob } from './compaction.ts';
import type { CompactionReply, CompactionRequest, InputTable } from './compaction-worker.ts';
import { manifestFileName, ManifestWriter, readManifest } from './manifest.ts';
import { Memtable } from './memtable.ts';
import {
  DbIterator,
  InternalMerge,
  LevelCursor,
  MemSource,
  RunCursor,
  VisibleSource,
  type Source,
} from './merge-iterator.ts';
import { defaultTableOptions, type TableOptions } from './sstable-builder.ts';
import { SstableReader } from './sstable-reader.ts';
import { sstFileName } from './sstable-format.ts';
import { compareLatin1, FileMeta, LEVELS, Version, emptyEdit, type VersionEdit } from './version.ts';
import { replayWal, Wal, walFileName } from './wal.ts';

export interface LsmOptions {
  readonly dir: string;
  /** Defaults to the real file system. */
  readonly vfs?: Vfs;
  /**
   * Memtable size that triggers a flush (default 8 MiB). 8 rather than 4: half
   * the L0 tables for the same data, so each L0->L1 compaction (every L0 table
   * plus the overlapping L1, all of it for random keys) rewrites L1 half as
   * often; a 1M-key random fill spent ~12% less CPU and stopped stalling on L0.
   */
  readonly memtableBytes?: number;
  /** Block cache budget (default 64 MiB). */
  readonly blockCacheBytes?: number;
  /** Target SSTable size for compaction outputs (default 2 MiB). */
  readonly tableBytes?: number;
  /** Uncompressed data block size (default 2 KiB: measured ~20% cheaper random reads than 4 KiB at the same cache size). */
  readonly blockBytes?: number;
  readonly compression?: 'lz4' | 'none';
  /** L0 table count that triggers an L0->L1 compaction (default 4). */
  readonly l0CompactionTrigger?: number;
  /** Target size of L1 (default 10 MiB); each deeper level is levelMultiplier times larger. */
  readonly l1MaxBytes?: number;
  readonly levelMultiplier?: number;
  /** Longest stretch background work runs before yielding to the event loop (default 4 ms). */
  readonly sliceMs?: number;
  /** Run flushes and compactions automatically (default true). False: only on flush()/compact(). */
  readonly backgroundWork?: boolean;
  /**
   * Run compaction merges on a worker thread (default true; only with the real
   * file system: a worker cannot share an in-memory Vfs). False: time slices
   * on the event loop.
   */
  readonly compactionWorker?: boolean;
  /** whenWritable() waits while this many frozen memtables await their flush (default 2). */
  readonly maxImmutableMemtables?: number;
  /** whenWritable() waits while L0 has this many tables (default 12). */
  readonly l0StopTrigger?: number;
  /** A manifest larger than this is replaced by a fresh snapshot after the next flush (default 4 MiB). */
  readonly manifestRotateBytes?: number;
}

/** The worker thread died or could not start: compaction falls back to the event loop. */
class WorkerFailed extends Error {}

/** process.emitWarning code of the one warning an engine gives when its compaction worker fails. */
export const COMPACTION_WORKER_WARNING = 'NEXTDB_COMPACTION_WORKER';

/**
 * The parent's execArgv minus the options a worker rejects: `--input-type`
 * (a script piped to `node --input-type=module` or run with `-e`) makes a
 * worker started from a file fail at once with "--input-type can only be used
 * with string input", and the source text of `-e`/`-p` is no option at all.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (a === '--input-type' || a === '-e' || a === '--eval' || a === '-p' || a === '--print') i++;
    else if (!a.startsWith('--input-type=') && !a.startsWith('--eval=') && !a.startsWith('--print=')) out.push(a);
  }
  return out;
}

/** Options of how modules load (with the value they take, if any), which a worker needs as its parent has them. */
const loaderOptions = new Map([
  ['--import', true],
  ['--require', true],
  ['-r', true],
  ['--loader', true],
  ['--experimental-loader', true],
  ['--conditions', true],
  ['-C', true],
  ['--enable-source-maps', false],
  ['--preserve-symlinks', false],
  ['--preserve-symlinks-main', false],
]);

/**
 * The module-loading options of execArgv (loaders, preloads, conditions, --experimental-* switches): what a
 * worker is started with when it refused the whole of workerExecArgv (ERR_WORKER_INVALID_EXEC_ARGV). A worker
 * refuses process-wide options (V8's --stack-trace-limit, --v8-pool-size, --secure-heap, ...), and Node 24's
 * test runner hands every test process all of Node's options, defaults included.
 */
export function workerLoaderExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    const takesValue = loaderOptions.get(name);
    if (takesValue === undefined && !name.startsWith('--experimental-') && !name.startsWith('--no-experimental-'))
      continue;
    out.push(a);
    if (takesValue === true && eq < 0 && i + 1 < execArgv.length) out.push(execArgv[++i]!);
  }
  return out;
}

interface ReadView {
  readonly seq: number;
  /** Memtables, newest first. */
  readonly mems: readonly Memtable[];
  readonly version: Version;
}

const EMPTY: Buffer = Buffer.alloc(0);

function asBuffer(key: Uint8Array): Buffer {
  return Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

export async function openLsmEngine(options: LsmOptions): Promise<LsmEngine> {
  const engine = new LsmEngine(options);
  await engine.recover();
  return engine;
}

export class LsmEngine implements Engine {
  readonly dir: string;
  private readonly vfs: Vfs;
  private readonly memtableBytes: number;
  private readonly tableBytes: number;
  private readonly tableOptions: TableOptions;
  private readonly picker: PickerOptions;
  private readonly sliceMs: number;
  private readonly backgroundWork: boolean;
  private readonly cache: BlockCache;
  private readonly compactionWorker: boolean;
  private readonly maxImmutableMemtables: number;
  private readonly l0StopTrigger: number;
  private readonly manifestRotateBytes: number;
  private writableWaiters: (() => void)[] = [];
  private worker: Worker | undefined;
  private workerBroken = false;
  private readonly workerWaiters = new Map<
    number,
    { resolve: (r: CompactionReply) => void; reject: (e: unknown) => void }
  >();
  private nextRequestId = 1;
  /** A compaction running on the worker, outside the work chain (so flushes proceed meanwhile). */
  private inflight: Promise<void> | undefined;

  private mem!: Memtable;
  /** Frozen memtables waiting to be flushed, oldest first. */
  private imms: Memtable[] = [];
  private current: Version = Version.empty();
  private lastSeq = 0;
  private nextFileNumber = 1;
  private wal!: Wal;
  private manifest!: ManifestWriter;
  private lock: VfsLock | undefined;
  private readonly views = new Set<ReadView>();
  /**
   * Safety net for iterators and snapshots dropped without close()/release():
   * their views would pin memtables and table files forever. When one is
   * garbage-collected its view is released (later than a close would have).
   */
  private readonly forgotten = new FinalizationRegistry<ReadView>((view) => this.releaseView(view));
  private readonly compactPointers: (string | undefined)[] = new Array<string | undefined>(LEVELS).fill(undefined);
  private chain: Promise<void> = Promise.resolve();
  private bgQueued = false;
  private bgError: unknown = undefined;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  /** Background file removals in flight (discard). */
  private readonly removals = new Set<Promise<void>>();
  /** Checkpoints in progress (settled promises), which close() waits for. */
  private readonly checkpoints = new Set<Promise<void>>();
  private readonly counters = {
    flushes: 0,
    compactions: 0,
    workerCompactions: 0,
    manifestRotations: 0,
    trivialMoves: 0,
    compactionBytesWritten: 0,
    flushBytesWritten: 0,
  };

  /** Use openLsmEngine(). */
  constructor(options: LsmOptions) {
    this.dir = options.dir;
    this.vfs = options.vfs ?? new NodeVfs();
    this.memtableBytes = options.memtableBytes ?? 8 << 20;
    this.tableBytes = options.tableBytes ?? 2 << 20;
    this.tableOptions = {
      ...defaultTableOptions,
      ...(options.blockBytes === undefined ? {} : { blockBytes: options.blockBytes }),
      ...(options.compression === undefined ? {} : { compression: options.compression }),
    };
    this.picker = {
      l0Trigger: options.l0CompactionTrigger ?? 4,
      l1MaxBytes: options.l1MaxBytes ?? 10 << 20,
      levelMultiplier: options.levelMultiplier ?? 10,
    };
    this.sliceMs = options.sliceMs ?? 4;
    this.backgroundWork = options.backgroundWork ?? true;
    this.cache = new BlockCache(options.blockCacheBytes ?? 64 << 20);
    this.compactionWorker = (options.compactionWorker ?? true) && this.vfs instanceof NodeVfs;
    this.maxImmutableMemtables = options.maxImmutableMemtables ?? 2;
    this.l0StopTrigger = options.l0StopTrigger ?? 12;
    this.manifestRotateBytes = options.manifestRotateBytes ?? 4 << 20;
  }

  // ---------------------------------------------------------------- recovery

  /** @internal called once by openLsmEngine. */
  async recover(): Promise<void> {
    const { vfs, dir } = this;
    vfs.mkdir(dir);
    this.lock = vfs.lockDir(dir);
    try {
      await this.recoverLocked();
    } catch (err) {
      for (const f of this.current.files()) f.reader?.close();
      this.lock.release();
      this.lock = undefined;
      this.closed = true;
      throw err;
    }
  }

  private async recoverLocked(): Promise<void> {
    const { vfs, dir } = this;
    const names = vfs.list(dir);
    const m = readManifest(vfs, dir);
    let version = Version.empty();
    let logNumber = 0;
    if (m === undefined) {
      const leftover = names.find((n) => n.endsWith('.sst') || n.endsWith('.log') || n.startsWith('MANIFEST-'));
      if (leftover !== undefined)
        throw new CorruptionError(vfsJoin(dir, 'CURRENT'), `missing, but the directory holds ${leftover}`);
    } else {
      for (const e of m.edits) {
        version = version.apply(e);
        if (e.logNumber !== undefined) logNumber = e.logNumber;
        if (e.nextFileNumber !== undefined) this.nextFileNumber = Math.max(this.nextFileNumber, e.nextFileNumber);
        if (e.lastSeq !== undefined) this.lastSeq = Math.max(this.lastSeq, e.lastSeq);
      }
    }
    for (const n of names) {
      const num = fileNumberOf(n);
      if (num !== undefined) this.nextFileNumber = Math.max(this.nextFileNumber, num + 1);
    }
    this.current = version;
    version.refs = 1;
    for (const f of version.files()) {
      f.refs++;
      f.reader = SstableReader.open(vfs, vfsJoin(dir, sstFileName(f.number)), f.number, this.cache);
    }

    // Replay the WAL into one memtable; a torn record or a gap in sequence numbers ends it (wal.ts replayWal).
    const logs = names
      .filter((n) => /^\d{6,}\.log$/.test(n))
      .map((n) => Number.parseInt(n, 10))
      .filter((n) => n >= logNumber)
      .sort((a, b) => a - b);
    const recovered = new Memtable(0);
    const lastSeq = replayWal(vfs, dir, logs, (seq, kind, key, value) => {
      recovered.add(key, seq, kind, value);
    });
    this.lastSeq = Math.max(this.lastSeq, lastSeq);

    const edit = emptyEdit();
    if (!recovered.empty) {
      const outputs = await flushMemtable(
        this.mergeJob(this.lastSeq, () => false, Infinity, 0),
        recovered,
      );
      for (const f of outputs) edit.added.push({ level: 0, file: f });
    }
    const walNumber = this.nextFileNumber++;
    const manifestNumber = this.nextFileNumber++;
    this.install(edit);
    const snapshot: VersionEdit = {
      logNumber: walNumber,
      nextFileNumber: this.nextFileNumber,
      lastSeq: this.lastSeq,
      deleted: [],
      added: [],
    };
    for (let l = 0; l < LEVELS; l++)
      for (const f of this.current.levels[l]!) snapshot.added.push({ level: l, file: f });
    this.manifest = await ManifestWriter.create(vfs, dir, manifestNumber, snapshot);

    // The new manifest is in force: everything it does not name is garbage.
    const live = new Set<number>([...this.current.files()].map((f) => f.number));
    for (const n of vfs.list(dir)) {
      const num = fileNumberOf(n);
      const stale =
        (n.startsWith('MANIFEST-') && n !== manifestFileName(manifestNumber)) ||
        (n.endsWith('.log') && num !== undefined && num < walNumber) ||
        (n.endsWith('.sst') && num !== undefined && !live.has(num)) ||
        n === 'CURRENT.tmp';
      if (stale) vfs.remove(vfsJoin(dir, n));
    }
    this.wal = new Wal(vfs, dir, walNumber);
    this.mem = new Memtable(walNumber, this.memtableBytes);
    this.scheduleBackground();
  }

  private mergeJob(
    smallestSnapshot: number,
    isBaseLevel: (key: string) => boolean,
    targetFileBytes: number,
    sliceMs: number,
  ): MergeJob {
    return {
      vfs: this.vfs,
      dir: this.dir,
      cache: this.cache,
      tableOptions: this.tableOptions,
      targetFileBytes,
      smallestSnapshot,
      isBaseLevel,
      newFileNumber: () => this.nextFileNumber++,
      sliceMs,
      cancelled: () => this.closing,
    };
  }

  // ------------------------------------------------------------------ reads

  get(key: Uint8Array): Buffer | undefined {
    this.checkOpen();
    const kb = asBuffer(key);
    // One hash serves the memtables' filters and the tables' blooms; the latin1 form only if a memtable may hold the key.
    const hash = bloomHash(kb);
    const mem = this.mem;
    if (mem.mayContain(hash)) {
      const v = mem.get(kb);
      if (v >= 0) return mem.kind(v) === OpKind.put ? mem.value(v) : undefined;
    }
    for (let i = this.imms.length - 1; i >= 0; i--) {
      const imm = this.imms[i]!;
      if (!imm.mayContain(hash)) continue;
      const v = imm.get(kb);
      if (v >= 0) return imm.kind(v) === OpKind.put ? imm.value(v) : undefined;
    }
    return getFromVersion(this.current, kb, hash, this.lastSeq);
  }

  iterator(options: ScanOptions = {}): EngineIterator {
    this.checkOpen();
    const view = this.openView();
    const token = {};
    const it = makeIterator(view, options, () => {
      this.forgotten.unregister(token);
      this.releaseView(view);
    });
    this.forgotten.register(it, view, token);
    return it;
  }

  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this, options);
  }

  snapshot(): Snapshot {
    this.checkOpen();
    const token = {};
    const snap = new LsmSnapshot(this.openView(), (v) => {
      this.forgotten.unregister(token);
      this.releaseView(v);
    });
    this.forgotten.register(snap, snap.view, token);
    return snap;
  }

  private openView(): ReadView {
    const mems: Memtable[] = [this.mem];
    for (let i = this.imms.length - 1; i >= 0; i--) mems.push(this.imms[i]!);
    const view: ReadView = { seq: this.lastSeq, mems, version: this.current };
    this.current.refs++;
    this.views.add(view);
    return view;
  }

  private releaseView(view: ReadView): void {
    if (!this.views.delete(view)) return;
    this.unrefVersion(view.version);
  }

  /** The oldest sequence number any reader can still ask for. */
  private smallestSnapshot(): number {
    let s = this.lastSeq;
    for (const v of this.views) if (v.seq < s) s = v.seq;
    return s;
  }

  // ----------------------------------------------------------------- writes

  put(key: Uint8Array, value: Uint8Array): void {
    this.checkWritable();
    const seq = this.lastSeq + 1;
    this.wal.addOne(seq, OpKind.put, key, value);
    this.lastSeq = seq;
    this.mem.add(key, seq, OpKind.put, value);
    if (this.mem.bytes >= this.memtableBytes) this.rotate();
  }

  delete(key: Uint8Array): void {
    this.checkWritable();
    const seq = this.lastSeq + 1;
    this.wal.addOne(seq, OpKind.delete, key, EMPTY);
    this.lastSeq = seq;
    this.mem.add(key, seq, OpKind.delete, EMPTY);
    if (this.mem.bytes >= this.memtableBytes) this.rotate();
  }

  write(batch: WriteBatch): void {
    this.checkWritable();
    const ops = batch.ops;
    if (ops.length === 0) return;
    let seq = this.lastSeq + 1;
    this.wal.addBatch(seq, ops);
    const mem = this.mem;
    for (const op of ops) mem.add(op.key, seq++, op.kind, op.value);
    this.lastSeq = seq - 1;
    if (mem.bytes >= this.memtableBytes) this.rotate();
  }

  /**
   * Flow control for bulk writers (LevelDB's write stall, made explicit since
   * writes here are synchronous): resolves at once while the engine keeps up,
   * and otherwise when flushes and compactions have caught up (frozen
   * memtables below maxImmutableMemtables, L0 below l0StopTrigger). Writers
   * that load a lot of data should await it between batches; writes never
   * block, so one that does not only uses more memory and slower reads.
   */
  whenWritable(): Promise<void> {
    if (this.writable()) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  private writable(): boolean {
    if (this.closing || this.bgError !== undefined || !this.backgroundWork) return true;
    return this.imms.length < this.maxImmutableMemtables && this.current.levels[0]!.length < this.l0StopTrigger;
  }

  private wakeWriters(): void {
    if (this.writableWaiters.length === 0 || !this.writable()) return;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const w of waiters) w();
  }

  sync(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.bgError !== undefined) return Promise.reject(this.bgError as Error);
    return this.wal.sync();
  }

  /** Freezes the memtable and starts a new WAL segment for its successor. */
  private rotate(): void {
    const n = this.nextFileNumber++;
    this.wal.rotate(n);
    this.imms.push(this.mem);
    this.mem = new Memtable(n, this.memtableBytes);
    this.scheduleBackground();
  }

  // ------------------------------------------------------- background work

  private enqueue(job: () => Promise<void>): Promise<void> {
    const p = this.chain.then(job);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private scheduleBackground(): void {
    if (!this.backgroundWork || this.bgQueued || this.closing || this.bgError !== undefined) return;
    this.bgQueued = true;
    void this.enqueue(async () => {
      this.bgQueued = false;
      try {
        while (!this.closing) {
          if (this.imms.length > 0) await this.flushOldest();
          // A compaction started for the worker is still running (on the worker, or on the event loop if the
          // worker died under it): a second one could pick the same inputs. Its end reschedules this loop.
          else if (this.inflight !== undefined) break;
          else if (this.usesWorker()) {
            this.startWorkerCompaction();
            break;
          } else if (!(await this.compactOnce())) break;
        }
      } catch (err) {
        if (!(err instanceof JobCancelled)) this.bgError = err;
        this.wakeWriters();
      }
    });
  }

  flush(): Promise<void> {
    this.checkOpen();
    return this.enqueue(async () => {
      if (this.bgError !== undefined) throw this.bgError;
      if (!this.mem.empty) this.rotate();
      while (this.imms.length > 0 && !this.closing) await this.flushOldest();
    }).then(() => this.scheduleBackground());
  }

  compact(): Promise<void> {
    this.checkOpen();
    return this.enqueue(async () => {
      for (;;) {
        if (this.bgError !== undefined) throw this.bgError;
        if (this.closing) return;
        if (this.imms.length > 0) await this.flushOldest();
        else if (this.inflight !== undefined) await this.inflight;
        else if (!(await this.compactOnce())) return;
      }
    });
  }

  private usesWorker(): boolean {
    return this.compactionWorker && !this.workerBroken;
  }

  /** Starts the next compaction on the worker without holding the work chain; reschedules when done. */
  private startWorkerCompaction(): void {
    if (pickCompaction(this.current.levels, this.picker, this.compactPointers) === undefined) return;
    this.inflight = this.compactOnce()
      .then(
        () => undefined,
        (err: unknown) => {
          if (!(err instanceof JobCancelled)) this.bgError = err;
          this.wakeWriters();
        },
      )
      .finally(() => {
        this.inflight = undefined;
        this.scheduleBackground();
      });
  }

  private async flushOldest(): Promise<void> {
    const mem = this.imms[0];
    assert(mem !== undefined, 'nothing to flush');
    const outputs = await flushMemtable(
      this.mergeJob(this.smallestSnapshot(), () => false, Infinity, this.sliceMs),
      mem,
    );
    const edit = emptyEdit();
    for (const f of outputs) edit.added.push({ level: 0, file: f });
    edit.logNumber = this.imms[1]?.walNumber ?? this.mem.walNumber;
    edit.nextFileNumber = this.nextFileNumber;
    edit.lastSeq = this.lastSeq;
    await this.logAndInstall(edit);
    this.imms.shift();
    this.wakeWriters();
    this.wal.forget(mem.walNumber);
    this.discard(walFileName(mem.walNumber));
    this.counters.flushes++;
    for (const f of outputs) this.counters.flushBytesWritten += f.size;
    // Only here, on the work chain with no worker compaction in flight, is nothing else appending to the manifest.
    if (this.manifest.bytes >= this.manifestRotateBytes && this.inflight === undefined) await this.rotateManifest();
  }

  /** Replaces the manifest by a fresh one holding a snapshot of the current state (CURRENT switch). */
  private async rotateManifest(): Promise<void> {
    const number = this.nextFileNumber++;
    const snapshot: VersionEdit = {
      logNumber: this.imms[0]?.walNumber ?? this.mem.walNumber,
      nextFileNumber: this.nextFileNumber,
      lastSeq: this.lastSeq,
      deleted: [],
      added: [],
    };
    for (let l = 0; l < LEVELS; l++)
      for (const f of this.current.levels[l]!) snapshot.added.push({ level: l, file: f });
    const old = this.manifest;
    this.manifest = await ManifestWriter.create(this.vfs, this.dir, number, snapshot);
    old.close();
    // A crash before this removal leaves an old manifest that the next open deletes.
    this.vfs.remove(vfsJoin(this.dir, old.name));
    this.counters.manifestRotations++;
  }

  /** Runs one compaction if the tree needs one; false when it is within shape. */
  private async compactOnce(): Promise<boolean> {
    const version = this.current;
    const pick = pickCompaction(version.levels, this.picker, this.compactPointers);
    if (pick === undefined) return false;
    const edit = emptyEdit();
    for (const f of pick.inputs) edit.deleted.push({ level: pick.level, number: f.number });
    if (pick.trivialMove) {
      edit.added.push({ level: pick.outputLevel, file: pick.inputs[0]! });
      await this.logAndInstall(edit);
      this.counters.trivialMoves++;
    } else {
      version.refs++;
      try {
        for (const f of pick.nextInputs) edit.deleted.push({ level: pick.outputLevel, number: f.number });
        // Each run is merged as one cursor: an L0 table alone, or a level's sorted tables.
        const runs = pick.level === 0 ? pick.inputs.map((f) => [f]) : [pick.inputs];
        if (pick.nextInputs.length > 0) runs.push(pick.nextInputs);
        const outLevel = pick.outputLevel;
        let outputs: FileMeta[] | undefined;
        if (this.usesWorker()) {
          outputs = await this.compactInWorker(runs, version, outLevel);
          if (outputs !== undefined) this.counters.workerCompactions++;
        }
        outputs ??= await runMerge(
          this.mergeJob(
            this.smallestSnapshot(),
            (key) => version.isBaseLevelForKey(outLevel, key),
            this.tableBytes,
            this.sliceMs,
          ),
          new InternalMerge(runs.map((r) => new RunCursor(r))),
        );
        for (const f of outputs) edit.added.push({ level: outLevel, file: f });
        await this.logAndInstall(edit);
        this.counters.compactions++;
        for (const f of outputs) this.counters.compactionBytesWritten += f.size;
      } finally {
        this.unrefVersion(version);
      }
    }
    let largest = pick.inputs[0]!.largest;
    for (const f of pick.inputs) if (f.largest > largest) largest = f.largest;
    this.compactPointers[pick.level] = largest;
    return true;
  }

  /**
   * Runs a compaction merge on the worker thread; undefined if the worker is
   * unusable (the caller then merges on the event loop).
   */
  private async compactInWorker(
    runs: readonly (readonly FileMeta[])[],
    version: Version,
    outLevel: number,
  ): Promise<FileMeta[] | undefined> {
    let inputBytes = 0;
    const toInput = (f: FileMeta): InputTable => {
      inputBytes += f.size;
      return { number: f.number, size: f.size, entries: f.entries, smallest: f.smallest, largest: f.largest };
    };
    const deeperRanges: [string, string][] = [];
    for (let l = outLevel + 1; l < LEVELS; l++)
      for (const f of version.levels[l]!) deeperRanges.push([f.smallest, f.largest]);
    const inputRuns = runs.map((r) => r.map(toInput));
    // Outputs are cut at tableBytes and hold no more than the inputs: this many numbers always suffice.
    const reserved = 2 * Math.ceil(inputBytes / this.tableBytes) + 16;
    const firstFileNumber = this.nextFileNumber;
    this.nextFileNumber += reserved;
    const req: CompactionRequest = {
      id: this.nextRequestId++,
      dir: this.dir,
      runs: inputRuns,
      smallestSnapshot: this.smallestSnapshot(),
      deeperRanges,
      firstFileNumber,
      fileNumbersReserved: reserved,
      tableOptions: this.tableOptions,
      targetFileBytes: this.tableBytes,
    };
    let reply: CompactionReply;
    try {
      reply = await this.askWorker(req);
    } catch (err) {
      if (err instanceof WorkerFailed && !this.closing) {
        this.workerBroken = true;
        // Once per engine, never silently: compaction still works, but on the event loop (slower writes/reads).
        process.emitWarning(`${err.message}; compactions of ${this.dir} now run on the main thread`, {
          code: COMPACTION_WORKER_WARNING,
          detail:
            'Compaction falls back to time slices on the event loop; data is unaffected. (openLsmEngine({ compactionWorker: false }) selects this mode without the warning.)',
        });
        return undefined;
      }
      throw err;
    }
    if (!reply.ok) {
      if (reply.corruption !== undefined) {
        const { file, detail, offset } = reply.corruption;
        const prefix = `corruption in ${file}${offset === undefined ? '' : ` at offset ${offset}`}: `;
        throw new CorruptionError(file, detail.startsWith(prefix) ? detail.slice(prefix.length) : detail, offset);
      }
      throw new NextDbError(SqlState.ioError, `compaction failed: ${reply.message}`);
    }
    const metas: FileMeta[] = [];
    try {
      for (const o of reply.outputs) {
        const m = new FileMeta(o.number, o.size, o.entries, o.smallest, o.largest);
        m.reader = SstableReader.open(this.vfs, vfsJoin(this.dir, sstFileName(o.number)), o.number, this.cache);
        metas.push(m);
      }
    } catch (err) {
      for (const m of metas) m.reader?.close();
      throw err;
    }
    return metas;
  }

  private askWorker(req: CompactionRequest): Promise<CompactionReply> {
    if (this.closing) return Promise.reject(new JobCancelled('engine closing'));
    let worker: Worker;
    try {
      worker = this.worker ??= this.spawnWorker();
    } catch (err) {
      // E.g. running from TypeScript sources under a loader other than tsx: compact on the event loop instead.
      return Promise.reject(new WorkerFailed(`compaction worker could not start: ${(err as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      this.workerWaiters.set(req.id, { resolve, reject });
      worker.postMessage(req);
    });
  }

  private spawnWorker(): Worker {
    const start = (execArgv: string[]): Worker => {
      if (import.meta.url.endsWith('.ts')) {
        // Running from TypeScript sources under tsx (tests, benchmarks): a worker does not inherit the loader
        // hooks, so a small bootstrap registers tsx in the worker before importing the worker module.
        const worker = new URL('./compaction-worker.ts', import.meta.url).href;
        const tsx = import.meta.resolve('tsx/esm/api');
        return new Worker(
          `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(worker)}); })`,
          { eval: true, execArgv },
        );
      }
      return new Worker(new URL('./compaction-worker.js', import.meta.url), { execArgv });
    };
    let w: Worker;
    // The worker inherits the process's node options (loaders such as tsx or Yarn PnP must apply there too),
    // except those that only make sense for the main script's source text; if it refuses some of them (options
    // of the whole process), only those of module loading.
    try {
      w = start(workerExecArgv(process.execArgv));
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
      w = start(workerLoaderExecArgv(process.execArgv));
    }
    // A forgotten close() must not keep the process alive.
    w.unref();
    const failAll = (err: unknown): void => {
      const waiters = [...this.workerWaiters.values()];
      this.workerWaiters.clear();
      for (const x of waiters) x.reject(err);
    };
    w.on('message', (reply: CompactionReply) => {
      const waiter = this.workerWaiters.get(reply.id);
      if (waiter === undefined) return;
      this.workerWaiters.delete(reply.id);
      waiter.resolve(reply);
    });
    w.on('error', (err: Error) => {
      if (this.worker === w) this.worker = undefined;
      failAll(new WorkerFailed(`compaction worker failed: ${err.message}`));
    });
    w.on('exit', () => {
      if (this.worker === w) this.worker = undefined;
      failAll(this.closing ? new JobCancelled('engine closing') : new WorkerFailed('compaction worker exited'));
    });
    return w;
  }

  private async logAndInstall(edit: VersionEdit): Promise<void> {
    edit.nextFileNumber = this.nextFileNumber;
    edit.lastSeq = this.lastSeq;
    await this.manifest.append(edit);
    this.install(edit);
  }

  /** Makes a new current version from `edit` (already durable in the manifest, or part of recovery). */
  private install(edit: VersionEdit): void {
    const next = this.current.apply(edit);
    next.refs = 1;
    for (const f of next.files()) f.refs++;
    const old = this.current;
    this.current = next;
    this.unrefVersion(old);
    this.wakeWriters();
  }

  private unrefVersion(v: Version): void {
    assert(v.refs > 0, 'version refcount underflow');
    if (--v.refs > 0) return;
    for (const f of v.files()) {
      if (--f.refs > 0) continue;
      f.reader?.close();
      f.reader = undefined;
      // Removing a table no version uses; a crash before this leaves an orphan that the next open deletes.
      this.discard(sstFileName(f.number));
    }
  }

  /**
   * Removes a file nothing needs any more (a table no version uses, a flushed WAL segment), best effort:
   * the next open deletes what a crash or a failure left (tables the manifest does not name, segments below
   * its log number). Off the event loop where the Vfs can (unlinking a 2-8 MiB file cost the main thread
   * ~2.5 ms of kernel time each, ~0.3 s per 1M-put fill); close() waits for removals in flight.
   */
  private discard(name: string): void {
    const path = vfsJoin(this.dir, name);
    if (this.vfs.removeInBackground === undefined) {
      try {
        this.vfs.remove(path);
      } catch {
        // Best effort (above).
      }
      return;
    }
    const p = this.vfs.removeInBackground(path).catch(() => undefined);
    this.removals.add(p);
    void p.then(() => this.removals.delete(p));
  }

  // ------------------------------------------------------------------ misc

  stats(): EngineStats {
    const s: Record<string, number> = {
      lastSeq: this.lastSeq,
      memtableBytes: this.mem.bytes,
      memtableEntries: this.mem.entries,
      immutableMemtables: this.imms.length,
      blockCacheBytes: this.cache.bytes,
      blockCacheHits: this.cache.hits,
      blockCacheMisses: this.cache.misses,
      walSyncRounds: this.wal.syncRounds,
      openSnapshots: this.views.size,
      // 1 once the compaction worker failed (a warning was emitted) and compactions run on the event loop.
      compactionWorkerFailed: this.workerBroken ? 1 : 0,
      ...this.counters,
    };
    let tables = 0;
    let bytes = 0;
    for (let l = 0; l < LEVELS; l++) {
      const files = this.current.levels[l]!;
      s[`level${l}Tables`] = files.length;
      s[`level${l}Bytes`] = this.current.levelBytes(l);
      tables += files.length;
      bytes += this.current.levelBytes(l);
    }
    s.tables = tables;
    s.tableBytes = bytes;
    return s;
  }

  /**
   * Engine.checkpoint: flushes the memtables (on the work chain, so the
   * flushed tables and the version taken are one moment), pins that version,
   * gives each of its tables a name in `dir` (a hard link, or a synced copy
   * across file systems) and writes a manifest naming them and CURRENT; no
   * WAL, since nothing of that moment is outside the tables. The engine keeps
   * serving meanwhile; the pinned tables outlive compactions until the
   * checkpoint ends, and close() waits for a checkpoint in progress.
   */
  async checkpoint(dir: string): Promise<CheckpointInfo> {
    this.checkWritable();
    const vfs = this.vfs;
    if (vfs.link === undefined)
      throw new NextDbError(SqlState.featureNotSupported, 'this file system layer cannot link or copy files');
    if (vfs.exists(dir) && vfs.list(dir).length > 0)
      throw new NextDbError(SqlState.duplicateFile, `checkpoint directory ${dir} is not empty`);
    // A directory in the data directory named like one of its files (000123.sst) failed every later open.
    const inside = path.relative(path.resolve(this.dir), path.resolve(dir));
    if (!inside.startsWith('..') && !path.isAbsolute(inside))
      throw new NextDbError(SqlState.invalidParameterValue, `checkpoint directory ${dir} is inside the data directory`);
    const run = this.runCheckpoint(vfs, vfs.link.bind(vfs), dir);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.checkpoints.add(settled);
    void settled.then(() => this.checkpoints.delete(settled));
    return run;
  }

  private async runCheckpoint(
    vfs: Vfs,
    link: (from: string, to: string) => Promise<boolean>,
    dir: string,
  ): Promise<CheckpointInfo> {
    let version: Version | undefined;
    let lastSeq = 0;
    let number = 0;
    await this.enqueue(async () => {
      if (this.bgError !== undefined) throw this.bgError;
      if (this.closing) throw closedError();
      if (!this.mem.empty) this.rotate();
      while (this.imms.length > 0 && !this.closing) await this.flushOldest();
      if (this.closing) throw closedError();
      version = this.current;
      version.refs++;
      lastSeq = this.lastSeq;
      // File numbers above every table of the version, for the new manifest and its (empty) WAL horizon.
      number = this.nextFileNumber;
    });
    const pinned = version!;
    /** Names this checkpoint made in `dir`, removed again if it fails (so a retry does not meet 58P02). */
    const made: string[] = [];
    try {
      vfs.mkdir(dir);
      let files = 0;
      let bytes = 0;
      let linked = 0;
      const snapshot: VersionEdit = {
        logNumber: number + 1,
        nextFileNumber: number + 2,
        lastSeq,
        deleted: [],
        added: [],
      };
      for (let l = 0; l < LEVELS; l++) {
        for (const f of pinned.levels[l]!) {
          const name = sstFileName(f.number);
          const to = vfsJoin(dir, name);
          if (vfs.exists(to))
            throw new NextDbError(
              SqlState.duplicateFile,
              `checkpoint directory ${dir} is being written by another checkpoint`,
            );
          if (await link(vfsJoin(this.dir, name), to)) linked++;
          made.push(to);
          snapshot.added.push({ level: l, file: f });
          files++;
          bytes += f.size;
        }
      }
      const manifest = await ManifestWriter.create(vfs, dir, number, snapshot);
      files += 2; // the manifest and CURRENT
      bytes += manifest.bytes + manifest.name.length + 1;
      manifest.close();
      return { dir, files, bytes, linked };
    } catch (err) {
      // Without CURRENT the directory never opened as a database; leave it empty for a retry (best effort).
      for (const name of made) {
        try {
          vfs.remove(name);
        } catch {
          // The error below says what went wrong; a leftover is refused by the next checkpoint as 58P02.
        }
      }
      throw err;
    } finally {
      this.unrefVersion(pinned);
    }
  }

  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.wakeWriters();
    // A running worker compaction is abandoned: its outputs are not in the manifest and the next open deletes them.
    if (this.worker !== undefined) await this.worker.terminate();
    await this.chain;
    // A checkpoint past its flush still links or copies the tables it pinned.
    await Promise.all([...this.checkpoints]);
    if (this.inflight !== undefined) await this.inflight;
    let failure: unknown;
    try {
      await this.wal.close();
    } catch (err) {
      failure = err;
    }
    this.closed = true;
    this.manifest.close();
    for (const view of [...this.views]) this.releaseView(view);
    for (const f of this.current.files()) {
      f.reader?.close();
      f.reader = undefined;
    }
    // Leave no removal running behind close (a test or a new opener may take the directory at once).
    await Promise.all([...this.removals]);
    this.lock?.release();
    this.lock = undefined;
    if (failure !== undefined) throw failure;
  }

  /** Test hook: drops the engine as a crash would (no sync, no cleanup); only meaningful with SimVfs. */
  abandon(): void {
    this.closing = true;
    this.closed = true;
    this.wal.abandon();
    void this.worker?.terminate();
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }

  private checkWritable(): void {
    if (this.closed || this.closing) throw closedError();
    if (this.bgError !== undefined) throw this.bgError;
  }
}

function closedError(): NextDbError {
  return new NextDbError(SqlState.objectInUse, 'storage engine is closed');
}

function fileNumberOf(name: string): number | undefined {
  const m = /^(?:MANIFEST-)?(\d{6,})(?:\.log|\.sst)?$/.exec(name);
  return m === null ? undefined : Number.parseInt(m[1]!, 10);
}

/** Point read against the tables of a version, on the key's bytes (tables need no latin1 form of it). */
function getFromVersion(version: Version, key: Buffer, hash: number, seq: number): Buffer | undefined {
  const l0 = version.levels[0]!;
  for (let i = 0; i < l0.length; i++) {
    const f = l0[i]!;
    if (compareLatin1(f.smallest, key) > 0 || compareLatin1(f.largest, key) < 0) continue;
    const t = f.reader!;
    if (!t.mayContain(hash)) continue;
    const r = t.get(key, seq);
    if (r !== undefined) return r ?? undefined;
  }
  for (let l = 1; l < LEVELS; l++) {
    const files = version.levels[l]!;
    if (files.length === 0) continue;
    const i = Version.findFile(files, key);
    if (i < 0) continue;
    const t = files[i]!.reader!;
    if (!t.mayContain(hash)) continue;
    const r = t.get(key, seq);
    if (r !== undefined) return r ?? undefined;
  }
  return undefined;
}

function viewGet(view: ReadView, key: Uint8Array): Buffer | undefined {
  const kb = asBuffer(key);
  const hash = bloomHash(kb);
  for (const mem of view.mems) {
    if (!mem.mayContain(hash)) continue;
    const v = mem.visible(mem.get(kb), view.seq);
    if (v >= 0) return mem.kind(v) === OpKind.put ? mem.value(v) : undefined;
  }
  return getFromVersion(view.version, kb, hash, view.seq);
}

function makeIterator(view: ReadView, o: ScanOptions, onClose: () => void): EngineIterator {
  const reverse = o.reverse === true;
  const sources: Source[] = [];
  for (const mem of view.mems) sources.push(new MemSource(mem, view.seq, reverse));
  const levels = view.version.levels;
  for (const f of levels[0]!) sources.push(new VisibleSource(f.table().cursor(), view.seq, reverse));
  for (let l = 1; l < LEVELS; l++) {
    if (levels[l]!.length > 0) sources.push(new VisibleSource(new LevelCursor(levels[l]!), view.seq, reverse));
  }
  const lo = o.gt ?? o.gte;
  const hi = o.lt ?? o.lte;
  return new DbIterator(
    sources,
    {
      lo: lo === undefined ? undefined : toLatin1(lo),
      loInclusive: o.gt === undefined,
      hi: hi === undefined ? undefined : toLatin1(hi),
      hiInclusive: o.lt === undefined,
      reverse,
      limit: o.limit ?? Infinity,
    },
    onClose,
  );
}

class LsmSnapshot implements Snapshot {
  private released = false;
  constructor(
    readonly view: ReadView,
    private readonly onRelease: (v: ReadView) => void,
  ) {}

  get(key: Uint8Array): Buffer | undefined {
    this.check();
    return viewGet(this.view, key);
  }

  iterator(options: ScanOptions = {}): EngineIterator {
    this.check();
    // The snapshot's own reference keeps the version alive; iterators need no extra one.
    return makeIterator(this.view, options, () => undefined);
  }

  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]> {
    return scanIterator(this, options);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this.view);
  }

  private check(): void {
    if (this.released) throw new NextDbError(SqlState.objectInUse, 'snapshot used after release');
  }
}
