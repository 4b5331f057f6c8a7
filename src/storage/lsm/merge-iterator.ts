/**
 * Iteration over the whole tree: memtables and SSTables merged into one
 * ordered, snapshot-consistent stream of live (key, value) pairs.
 *
 *   EntryCursor   every entry (all versions) of one table, or of one level
 *                 (LevelCursor concatenates its non-overlapping tables)
 *   Source        per user key, the newest version visible at the snapshot,
 *                 in one direction (VisibleSource over a cursor, MemSource
 *                 over a memtable)
 *   DbIterator    merges the sources: at each step the smallest (largest,
 *                 when reverse) current key; among the sources positioned on
 *                 it, the version with the highest sequence number wins;
 *                 tombstones are skipped; bounds and limit applied
 *   InternalMerge merges RunCursors (a compaction's input runs, read on
 *                 bytes) in internal order (key asc, seq desc) with every
 *                 version kept: the input of a compaction
 *
 * Readers' keys travel as latin1 strings (string compare == byte compare);
 * only the public key() turns one into a Buffer. A compaction's merge works
 * on the key bytes: it only compares them and hands them to the builder.
 */

import { fromLatin1 } from '../../util/bytes.ts';
import { CorruptionError } from '../../util/errors.ts';
import type { EngineIterator } from '../engine.ts';
import { OpKind } from '../write-batch.ts';
import type { Memtable } from './memtable.ts';
import { BlockFormatError, BlockWalker } from './block.ts';
import { ReadAhead, type EntryCursor, type SstableReader, type TableCursor } from './sstable-reader.ts';
import type { FileMeta } from './version.ts';

const EMPTY: Buffer = Buffer.alloc(0);

export interface Source {
  valid: boolean;
  key: string;
  seq: number;
  kind: number;
  val: Buffer;
  /** Forward: first key >= k (k undefined: the first key). Reverse: last key <= k (undefined: the last). */
  seek(k: string | undefined): void;
  next(): void;
}

/** Concatenation of the sorted, non-overlapping tables of one level. */
export class LevelCursor implements EntryCursor {
  private fi = -1;
  private tc: TableCursor | undefined = undefined;

  constructor(
    private readonly files: readonly FileMeta[],
    private readonly fillCache = true,
  ) {}

  private open(fi: number): TableCursor | undefined {
    if (fi < 0 || fi >= this.files.length) {
      this.fi = -1;
      this.tc = undefined;
      return undefined;
    }
    if (fi !== this.fi || this.tc === undefined) {
      this.fi = fi;
      this.tc = this.files[fi]!.table().cursor(this.fillCache);
    }
    return this.tc;
  }

  valid(): boolean {
    return this.tc !== undefined && this.tc.valid();
  }
  key(): string {
    return this.tc!.key();
  }
  seq(): number {
    return this.tc!.seq();
  }
  kind(): number {
    return this.tc!.kind();
  }
  value(): Buffer {
    return this.tc!.value();
  }

  seekGE(k: string): void {
    let lo = 0;
    let hi = this.files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.files[mid]!.largest < k) lo = mid + 1;
      else hi = mid;
    }
    const tc = this.open(lo);
    if (tc === undefined) return;
    tc.seekGE(k);
    if (!tc.valid()) this.forwardFrom(lo + 1);
  }

  seekLE(k: string): void {
    let lo = 0;
    let hi = this.files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.files[mid]!.smallest <= k) lo = mid + 1;
      else hi = mid;
    }
    const tc = this.open(lo - 1);
    if (tc === undefined) return;
    tc.seekLE(k);
    if (!tc.valid()) this.backwardFrom(lo - 2);
  }

  first(): void {
    this.forwardFrom(0);
  }

  last(): void {
    this.backwardFrom(this.files.length - 1);
  }

  next(): void {
    if (this.tc === undefined) return;
    this.tc.next();
    if (!this.tc.valid()) this.forwardFrom(this.fi + 1);
  }

  prev(): void {
    if (this.tc === undefined) return;
    this.tc.prev();
    if (!this.tc.valid()) this.backwardFrom(this.fi - 1);
  }

  private forwardFrom(fi: number): void {
    for (let tc = this.open(fi); tc !== undefined; tc = this.open(this.fi + 1)) {
      tc.first();
      if (tc.valid()) return;
    }
  }

  private backwardFrom(fi: number): void {
    for (let tc = this.open(fi); tc !== undefined; tc = this.open(this.fi - 1)) {
      tc.last();
      if (tc.valid()) return;
    }
  }
}

/** The current entry of a source and how it reads: at which snapshot, in which direction. */
abstract class SourceBase {
  valid = false;
  key = '';
  seq = 0;
  kind = 0;
  val: Buffer = EMPTY;

  constructor(
    protected readonly snapSeq: number,
    protected readonly reverse: boolean,
  ) {}
}

/** Per user key, the newest version with seq <= snapSeq of an entry cursor. */
export class VisibleSource extends SourceBase implements Source {
  constructor(
    private readonly c: EntryCursor,
    snapSeq: number,
    reverse: boolean,
  ) {
    super(snapSeq, reverse);
  }

  seek(k: string | undefined): void {
    const c = this.c;
    if (this.reverse) {
      if (k === undefined) c.last();
      else c.seekLE(k);
    } else if (k === undefined) c.first();
    else c.seekGE(k);
    this.settle();
  }

  next(): void {
    if (!this.valid) return;
    if (!this.reverse) {
      // Skip the older versions of the current key.
      const c = this.c;
      const k = this.key;
      while (c.valid() && c.key() === k) c.next();
    }
    // Reverse: settle() already moved the cursor past the current key's group.
    this.settle();
  }

  private settle(): void {
    const c = this.c;
    const snap = this.snapSeq;
    if (!this.reverse) {
      while (c.valid()) {
        if (c.seq() <= snap) {
          this.capture();
          return;
        }
        c.next();
      }
      this.valid = false;
      return;
    }
    while (c.valid()) {
      // Going backwards a key's versions come oldest first: the last visible one seen is the newest.
      const k = c.key();
      let hit = false;
      while (c.valid() && c.key() === k) {
        if (c.seq() <= snap) {
          this.capture();
          hit = true;
        }
        c.prev();
      }
      if (hit) return;
    }
    this.valid = false;
  }

  private capture(): void {
    const c = this.c;
    this.valid = true;
    this.key = c.key();
    this.seq = c.seq();
    this.kind = c.kind();
    this.val = c.value();
  }
}

/** Greater than every latin1 string: the open upper end of a memtable range read. */
/** Pairs fetched per memtable range read. */
const MEM_BATCH = 64;

/**
 * Per user key, the newest visible version in a memtable.
 *
 * Forward, pairs are fetched in batches (one tree descent per 64 keys instead
 * of one per key). That is safe on the live memtable: keys are never removed,
 * a key inserted after the batch was fetched has only versions newer than
 * this reader's snapshot (invisible anyway), and versions are resolved from
 * the chain when consumed. Reverse steps one lookup at a time.
 */
export class MemSource extends SourceBase implements Source {
  /** Key ids. */
  private readonly batch: number[] = [];
  private bn = 0;
  private bi = 0;
  /** The current key's id (its key bytes start the next reverse step). */
  private cur = -1;

  constructor(
    private readonly mem: Memtable,
    snapSeq: number,
    reverse: boolean,
  ) {
    super(snapSeq, reverse);
  }

  seek(k: string | undefined): void {
    const kb = k === undefined ? undefined : fromLatin1(k);
    if (this.reverse) {
      this.settleReverse(this.mem.tree.lower(kb, true));
      return;
    }
    this.fetch(kb ?? EMPTY, true);
    this.settleForward();
  }

  next(): void {
    if (!this.valid) return;
    if (this.reverse) {
      this.settleReverse(this.mem.tree.lower(this.mem.keyBytes(this.cur), false));
      return;
    }
    this.bi++;
    this.settleForward();
  }

  private fetch(from: Uint8Array, inclusive: boolean): void {
    this.bn = this.mem.tree.range(from, inclusive, MEM_BATCH, this.batch);
    this.bi = 0;
  }

  private settleForward(): void {
    const mem = this.mem;
    for (;;) {
      if (this.bi >= this.bn) {
        // A short batch reached the end of the tree; a full one continues after its last key.
        if (this.bn < MEM_BATCH) {
          this.valid = false;
          return;
        }
        this.fetch(mem.keyBytes(this.batch[this.bn - 1]!), false);
        continue;
      }
      const k = this.batch[this.bi]!;
      const v = mem.visible(mem.head(k), this.snapSeq);
      if (v >= 0) {
        this.capture(k, v);
        return;
      }
      this.bi++;
    }
  }

  private settleReverse(k: number): void {
    const mem = this.mem;
    while (k >= 0) {
      const v = mem.visible(mem.head(k), this.snapSeq);
      if (v >= 0) {
        this.capture(k, v);
        return;
      }
      k = mem.tree.lower(mem.keyBytes(k), false);
    }
    this.valid = false;
  }

  private capture(k: number, v: number): void {
    const mem = this.mem;
    this.valid = true;
    this.cur = k;
    this.key = mem.keyString(k);
    this.seq = mem.seq(v);
    this.kind = mem.kind(v);
    this.val = mem.value(v);
  }
}

export interface IteratorBounds {
  readonly lo: string | undefined;
  readonly loInclusive: boolean;
  readonly hi: string | undefined;
  readonly hiInclusive: boolean;
  readonly reverse: boolean;
  readonly limit: number;
}

/** The engine's iterator: a merged, bounded, tombstone-free view at one snapshot. */
export class DbIterator implements EngineIterator {
  private curKey: string | undefined = undefined;
  private curVal: Buffer = EMPTY;
  private keyBuf: Buffer | undefined = undefined;
  private remaining: number;
  private closed = false;

  constructor(
    private readonly sources: Source[],
    private readonly b: IteratorBounds,
    private readonly onClose: () => void,
  ) {
    this.remaining = b.limit;
    this.positionFrom(b.reverse ? b.hi : b.lo);
  }

  valid(): boolean {
    return this.curKey !== undefined;
  }

  key(): Buffer {
    if (this.curKey === undefined) throw new Error('iterator not valid');
    this.keyBuf ??= fromLatin1(this.curKey);
    return this.keyBuf;
  }

  value(): Buffer {
    if (this.curKey === undefined) throw new Error('iterator not valid');
    return this.curVal;
  }

  next(): void {
    if (this.curKey === undefined) return;
    this.settle();
  }

  seek(key: Uint8Array): void {
    if (this.closed) return;
    const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    const b = this.b;
    if (b.reverse) this.positionFrom(b.hi !== undefined && k > b.hi ? b.hi : k);
    else this.positionFrom(b.lo !== undefined && k < b.lo ? b.lo : k);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.curKey = undefined;
    this.onClose();
  }

  private positionFrom(k: string | undefined): void {
    for (const s of this.sources) s.seek(k);
    this.settle();
  }

  private settle(): void {
    const b = this.b;
    const sources = this.sources;
    const n = sources.length;
    this.keyBuf = undefined;
    for (;;) {
      let key: string | undefined = undefined;
      for (let i = 0; i < n; i++) {
        const s = sources[i]!;
        if (!s.valid) continue;
        if (key === undefined || (b.reverse ? s.key > key : s.key < key)) key = s.key;
      }
      if (key === undefined || this.remaining <= 0) {
        this.curKey = undefined;
        return;
      }
      // The far bound ends the iteration; the near bound (only crossed right after a seek) skips.
      let outside = false;
      if (b.reverse) {
        if (b.lo !== undefined && (key < b.lo || (key === b.lo && !b.loInclusive))) {
          this.curKey = undefined;
          return;
        }
        if (b.hi !== undefined && (key > b.hi || (key === b.hi && !b.hiInclusive))) outside = true;
      } else {
        if (b.hi !== undefined && (key > b.hi || (key === b.hi && !b.hiInclusive))) {
          this.curKey = undefined;
          return;
        }
        if (b.lo !== undefined && (key < b.lo || (key === b.lo && !b.loInclusive))) outside = true;
      }
      let bestSeq = -1;
      let kind = 0;
      let val: Buffer = EMPTY;
      for (let i = 0; i < n; i++) {
        const s = sources[i]!;
        if (!s.valid || s.key !== key) continue;
        if (s.seq > bestSeq) {
          bestSeq = s.seq;
          kind = s.kind;
          val = s.val;
        }
        s.next();
      }
      if (outside || kind === OpKind.delete) continue;
      this.remaining--;
      this.curKey = key;
      this.curVal = val;
      return;
    }
  }
}

/**
 * Every entry of a run of tables (one L0 table, or a level's sorted,
 * non-overlapping tables), forward, on bytes: the input of a compaction.
 * Blocks are read past the block cache in large windows (SstableReader's
 * read-ahead) and walked in place (BlockWalker): the current key is
 * `key[0, keyLen)`, the value `data[valueStart, valueEnd)`, both valid until
 * next().
 */
export class RunCursor {
  valid = false;
  private fi = -1;
  private bi = 0;
  private table: SstableReader | undefined = undefined;
  private readonly ra = new ReadAhead();
  private readonly w = new BlockWalker();

  constructor(private readonly files: readonly FileMeta[]) {
    this.nextTable();
  }

  get key(): Buffer {
    return this.w.key;
  }
  get keyLen(): number {
    return this.w.keyLen;
  }
  get seq(): number {
    return this.w.seq;
  }
  get kind(): number {
    return this.w.kind;
  }
  get data(): Buffer {
    return this.w.data;
  }
  get view(): DataView<ArrayBufferLike> {
    return this.w.view;
  }
  get valueStart(): number {
    return this.w.valueStart;
  }
  get valueEnd(): number {
    return this.w.valueEnd;
  }

  next(): void {
    if (!this.valid) return;
    if (!this.step()) this.nextBlock();
  }

  private step(): boolean {
    try {
      return this.w.next();
    } catch (err) {
      throw this.rewrap(err);
    }
  }

  private nextTable(): void {
    this.fi++;
    this.table = this.files[this.fi]?.table();
    this.bi = -1;
    this.ra.start = 0;
    this.ra.buf = EMPTY;
    this.nextBlock();
  }

  /** Moves to the first entry of the next non-empty block (of this table or the following ones). */
  private nextBlock(): void {
    for (;;) {
      const t = this.table;
      if (t === undefined) {
        this.valid = false;
        return;
      }
      if (++this.bi >= t.blockCount) {
        this.nextTable();
        return;
      }
      const data = t.block(this.bi, false, this.ra);
      try {
        this.w.reset(data);
      } catch (err) {
        throw this.rewrap(err);
      }
      if (this.step()) {
        this.valid = true;
        return;
      }
    }
  }

  private rewrap(err: unknown): unknown {
    if (!(err instanceof BlockFormatError) || this.table === undefined) return err;
    return new CorruptionError(this.table.file.path, `malformed block ${this.bi}: ${err.message}`);
  }
}

/** Sign of (a's key, newest first) - (b's key, newest first) in internal order: key ascending, seq descending. */
function compareEntries(a: RunCursor, b: RunCursor): number {
  const ak = a.key;
  const bk = b.key;
  const al = a.keyLen;
  const bl = b.keyLen;
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = ak[i]! - bk[i]!;
    if (d !== 0) return d;
  }
  if (al !== bl) return al - bl;
  return b.seq - a.seq;
}

/**
 * Forward merge of runs in internal order (key ascending, seq descending),
 * every version kept: the input of a compaction. `cur` is the run holding
 * the smallest entry (undefined at the end). A linear pick: a compaction
 * merges a handful of runs (the L0 tables and one level).
 */
export class InternalMerge {
  cur: RunCursor | undefined = undefined;

  constructor(private readonly runs: readonly RunCursor[]) {
    this.pick();
  }

  next(): void {
    if (this.cur === undefined) return;
    this.cur.next();
    this.pick();
  }

  private pick(): void {
    let best: RunCursor | undefined = undefined;
    const runs = this.runs;
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i]!;
      if (!r.valid) continue;
      if (best === undefined || compareEntries(r, best) < 0) best = r;
    }
    this.cur = best;
  }
}
