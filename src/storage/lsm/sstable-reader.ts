/**
 * Reads one SSTable: point lookups and bidirectional cursors.
 *
 * Opening reads and verifies the footer (magic, version, CRC), the index
 * block and the bloom filter, which stay in memory for the table's life. The
 * index is kept flat: every block's last key in one Buffer, with typed arrays
 * of key offsets, 4-byte big-endian key prefixes, sequence numbers and block
 * handles. A point read binary-searches the prefixes (one Uint32Array, a few
 * cache lines) and compares whole keys only on a prefix tie, straight from
 * the caller's key bytes: no string per probe (an array of strings cost a
 * cache miss per probe and one heap object per block for the GC to trace),
 * and no latin1 form of the key at all.
 * Data blocks are read on demand, synchronously, through the block cache;
 * every block read from the file has its CRC checked before use. Any damage
 * is a CorruptionError naming the file; no bytes from a damaged block are
 * ever returned.
 *
 * When the Vfs can map the file (VfsFile.map: NodeVfs with the native
 * helpers), an uncompressed data block is CRC-checked and used where it lies
 * in the mapping, on every read, and never cached (see locate); everything
 * else "read from the file" (footer, index, bloom, LZ4 blocks, compaction's
 * read-ahead windows) is a copy out of the mapping instead of a pread (~0.1
 * µs against ~1.5-2 µs for the system call), checked as before. No view of
 * the mapping leaves this class (values and blocks are copied out), and
 * close() unmaps it.
 */

import { CorruptionError } from '../../util/errors.ts';
import type { Vfs, VfsFile } from '../vfs.ts';
import { CacheSlots, type BlockCache } from './block-cache.ts';
import { BlockFormatError, blockGet, DecodedBlock, found } from './block.ts';
import { bloomMayContain } from './bloom.ts';
import { getVarint, readU64, type Cursor } from './coding.ts';
import {
  BLOCK_TRAILER_BYTES,
  blockCrc,
  Codec,
  FOOTER_BYTES,
  FORMAT_VERSION,
  footerCrc,
  lz4Uncompress,
  MAGIC,
} from './sstable-format.ts';

const c: Cursor = { pos: 0 };

/** Where the block found by the last SstableReader.locate lies in the Buffer it returned (module-level: no allocation per read). */
const at = { start: 0, end: 0 };

/**
 * Blocks read from files are carved out of 1 MiB slabs instead of getting an
 * ArrayBuffer each: a fresh allocation per block-cache miss cost as much as
 * the read itself. A slab lives while any block in it is referenced (cached
 * or returned to a reader), so memory held can exceed the cache budget by up
 * to one slab per run of evicted-but-pinned blocks; with LRU eviction, blocks
 * read together are evicted together and slabs are released in practice.
 */
const SLAB_BYTES = 1 << 20;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function slabAlloc(n: number): Buffer {
  if (n > SLAB_BYTES / 8) return Buffer.allocUnsafe(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const b = Buffer.from(slab, slabUsed, n);
  slabUsed += n;
  return b;
}

/** Returns the most recent slabAlloc(n) to the slab (its bytes were only scratch). */
function slabFree(b: Buffer): void {
  if (b.buffer === slab && b.byteOffset + b.length === slabUsed) slabUsed = b.byteOffset;
}

/** The first 4 bytes of `key` as a big-endian u32, zero-padded: prefix(a) < prefix(b) implies a < b. */
function keyPrefix(key: Uint8Array): number {
  const n = key.length;
  if (n >= 4) return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
  let p = 0;
  for (let i = 0; i < 4; i++) p = p * 256 + (i < n ? key[i]! : 0);
  return p;
}

const NO_NUMBERS = new Float64Array(0);
const NO_VIEW: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
const NO_U32 = new Uint32Array(0);

/** Scratch for a cursor seek's key bytes (seeks are synchronous and keys short). */
let seekScratch: Buffer = Buffer.allocUnsafe(256);

/** `k` (latin1) as bytes in a reused scratch buffer, valid until the next call. */
function latin1Bytes(k: string): Buffer {
  if (k.length > seekScratch.length) seekScratch = Buffer.allocUnsafe(k.length * 2);
  for (let i = 0; i < k.length; i++) seekScratch[i] = k.charCodeAt(i);
  return seekScratch.subarray(0, k.length);
}

/** Bytes a compaction cursor reads from its table per call (one syscall per 2 KiB block was ~5% of a compaction). */
const READ_AHEAD_BYTES = 256 * 1024;

/** A window of a table file [start, start + buf.length), read in one call, for a cursor that walks the file in order. */
export class ReadAhead {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
}

/** A copy of data[start, end): short values by a loop (Buffer's native copy costs more than copying 100 bytes). */
function copyOut(data: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  if (n > 128) return Buffer.from(data.subarray(start, end));
  const out = Buffer.allocUnsafe(n);
  for (let j = 0; j < n; j++) out[j] = data[start + j]!;
  return out;
}

/** DataView of the ArrayBuffer that Buffer.allocUnsafe last carved a short value from (Node's shared pool). */
let poolBuffer: ArrayBufferLike | undefined;
let poolView = new DataView(new ArrayBuffer(0));

/**
 * copyOut from the block cache's arena (or a table's mapping), four bytes per step through DataViews
 * (integers: every bit pattern is copied as is) instead of one: a 100-byte
 * value took ~220-280 ns by the byte loop, ~130-150 ns so (in isolation, hot).
 */
function copyOutOfArena(arena: Buffer, view: DataView, start: number, end: number): Buffer {
  const n = end - start;
  if (n > 128) return Buffer.from(arena.subarray(start, end));
  const out = Buffer.allocUnsafe(n);
  if (out.buffer !== poolBuffer) {
    poolBuffer = out.buffer;
    poolView = new DataView(poolBuffer);
  }
  const dv = poolView;
  const o = out.byteOffset;
  let j = 0;
  for (; j + 4 <= n; j += 4) dv.setUint32(o + j, view.getUint32(start + j));
  for (; j < n; j++) out[j] = arena[start + j]!;
  return out;
}

export class SstableReader {
  /** Number of data blocks. */
  blockCount = 0;
  /** The blocks' last keys, back to back; key i is ixKeys[ixKeyStarts[i] .. ixKeyStarts[i+1]). */
  private ixKeys: Buffer = Buffer.alloc(0);
  private ixKeyStarts: Uint32Array = NO_U32;
  private ixPrefixes: Uint32Array = NO_U32;
  private ixSeqs: Float64Array = NO_NUMBERS;
  private blockOffsets: Float64Array = NO_NUMBERS;
  private blockSizes: Uint32Array = NO_U32;
  private bloom: Buffer = Buffer.alloc(0);
  private slots = new CacheSlots(0);
  private fileBytes = 0;
  /** The file's bytes through its mapping, when the Vfs could map it, and a DataView of them. */
  private mapped: Buffer | undefined;
  private mappedView: DataView<ArrayBufferLike> = NO_VIEW;
  /** Bytes pinned in memory by this reader (index + bloom). */
  pinnedBytes = 0;

  private constructor(
    readonly file: VfsFile,
    readonly fileNumber: number,
    private readonly cache: BlockCache,
  ) {}

  static open(vfs: Vfs, path: string, fileNumber: number, cache: BlockCache): SstableReader {
    const file = vfs.open(path);
    const reader = new SstableReader(file, fileNumber, cache);
    try {
      reader.load();
    } catch (err) {
      file.close();
      throw err;
    }
    return reader;
  }

  private corrupt(message: string, offset?: number): CorruptionError {
    return new CorruptionError(this.file.path, message, offset);
  }

  private load(): void {
    const size = this.file.size();
    this.fileBytes = size;
    if (size < FOOTER_BYTES) throw this.corrupt(`file of ${size} bytes is too short for a footer`);
    const mapped = this.file.map?.();
    if (mapped !== undefined && mapped.length === size) {
      this.mapped = mapped;
      this.mappedView = new DataView(mapped.buffer, mapped.byteOffset, mapped.length);
    }
    const footer = Buffer.allocUnsafe(FOOTER_BYTES);
    if (this.readAt(footer, 0, FOOTER_BYTES, size - FOOTER_BYTES) !== FOOTER_BYTES)
      throw this.corrupt('short read of footer', size - FOOTER_BYTES);
    if (!footer.subarray(40, 48).equals(MAGIC)) throw this.corrupt('bad magic number in footer', size - FOOTER_BYTES);
    if (footerCrc(footer) !== footer.readUInt32LE(32))
      throw this.corrupt('footer checksum mismatch', size - FOOTER_BYTES);
    const version = footer.readUInt32LE(24);
    if (version !== FORMAT_VERSION) throw this.corrupt(`unsupported format version ${version}`);
    const indexOffset = readU64(footer, 0);
    const indexSize = footer.readUInt32LE(8);
    const bloomOffset = readU64(footer, 12);
    const bloomSize = footer.readUInt32LE(20);
    const blockCount = footer.readUInt32LE(28);
    const limit = size - FOOTER_BYTES;
    if (indexOffset + indexSize + BLOCK_TRAILER_BYTES > limit || bloomOffset + bloomSize + BLOCK_TRAILER_BYTES > limit)
      throw this.corrupt('block handle in footer runs past the end');
    this.bloom = this.readRaw(bloomOffset, bloomSize);
    const index = new DecodedBlock();
    const indexData = this.readRaw(indexOffset, indexSize);
    try {
      index.decode(indexData);
    } catch (err) {
      throw this.rewrap(err, indexOffset);
    }
    if (index.count !== blockCount)
      throw this.corrupt(`index has ${index.count} entries, footer says ${blockCount}`, indexOffset);
    const n = index.count;
    let keyBytes = 0;
    for (let i = 0; i < n; i++) keyBytes += index.keys[i]!.length;
    this.ixKeys = Buffer.allocUnsafe(keyBytes);
    this.ixKeyStarts = new Uint32Array(n + 1);
    this.ixPrefixes = new Uint32Array(n);
    this.ixSeqs = new Float64Array(n);
    this.blockOffsets = new Float64Array(n);
    this.blockSizes = new Uint32Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const v = index.value(i);
      c.pos = 0;
      const off = getVarint(v, c, v.length);
      const sz = getVarint(v, c, v.length);
      if (off < 0 || sz < 0 || off + sz + BLOCK_TRAILER_BYTES > bloomOffset)
        throw this.corrupt('bad block handle in index', indexOffset);
      const k = index.keys[i]!;
      this.ixKeyStarts[i] = at;
      at += this.ixKeys.write(k, at, 'latin1');
      this.ixPrefixes[i] = keyPrefix(this.ixKeys.subarray(this.ixKeyStarts[i], at));
      this.ixSeqs[i] = index.seqs[i]!;
      this.blockOffsets[i] = off;
      this.blockSizes[i] = sz;
    }
    this.ixKeyStarts[n] = at;
    this.blockCount = n;
    this.pinnedBytes = this.bloom.length + keyBytes + 32 * n;
    this.slots = new CacheSlots(n);
  }

  /** Reads up to `n` bytes at file `position` into `into` at `at` (from the mapping if any); returns the count. */
  private readAt(into: Buffer, at: number, n: number, position: number): number {
    const m = this.mapped;
    if (m === undefined) return this.file.read(into, at, n, position);
    const end = Math.min(position + n, m.length);
    return end > position ? m.copy(into, at, position, end) : 0;
  }

  private rewrap(err: unknown, offset: number): unknown {
    if (err instanceof BlockFormatError) return this.corrupt(`malformed block: ${err.message}`, offset);
    return err;
  }

  /**
   * Reads, verifies and uncompresses the block whose payload is at
   * [offset, offset+size), into memory of its own; with `ra`, out of that
   * read-ahead window (refilled by one large read when the block is not in it).
   */
  private readRaw(offset: number, size: number, ra?: ReadAhead): Buffer {
    const n = size + BLOCK_TRAILER_BYTES;
    let framed: Buffer;
    let start = 0;
    if (ra === undefined) {
      framed = slabAlloc(n);
      this.readFrame(framed, 0, offset, size);
    } else {
      if (offset < ra.start || offset + n > ra.start + ra.buf.length) {
        // A fresh window each time: blocks handed out from the old one stay valid.
        const want = Math.max(n, Math.min(READ_AHEAD_BYTES, this.fileBytes - offset));
        const buf = Buffer.allocUnsafe(want);
        const got = this.readAt(buf, 0, want, offset);
        if (got < n) throw this.corrupt('short read of block', offset);
        ra.buf = buf.subarray(0, got);
        ra.start = offset;
      }
      framed = ra.buf;
      start = offset - ra.start;
      this.checkFrame(framed, start, offset, size);
    }
    const payload = framed.subarray(start, start + size);
    if (framed[start + size] === Codec.none) return payload;
    const raw = this.uncompress(payload, offset);
    if (ra === undefined) slabFree(framed);
    return raw;
  }

  /** Reads the frame of the block at `offset` into `into` at `at` and checks it; returns its codec. */
  private readFrame(into: Buffer, at: number, offset: number, size: number): number {
    const n = size + BLOCK_TRAILER_BYTES;
    if (this.readAt(into, at, n, offset) !== n) throw this.corrupt('short read of block', offset);
    return this.checkFrame(into, at, offset, size);
  }

  /** Checks the CRC and codec of the frame at `at` in `buf` (the block at file `offset`); returns its codec. */
  private checkFrame(buf: Buffer, at: number, offset: number, size: number): number {
    const end = at + size;
    const stored = (buf[end + 1]! | (buf[end + 2]! << 8) | (buf[end + 3]! << 16)) + buf[end + 4]! * 0x1000000;
    if (blockCrc(buf, at, end + 1) !== stored) throw this.corrupt('block checksum mismatch', offset);
    const codec = buf[end]!;
    if (codec !== Codec.none && codec !== Codec.lz4) throw this.corrupt(`unknown block codec ${codec}`, offset);
    return codec;
  }

  private uncompress(payload: Buffer, offset: number): Buffer {
    try {
      return lz4Uncompress(payload);
    } catch (err) {
      throw new CorruptionError(this.file.path, `LZ4 block does not decompress: ${(err as Error).message}`, offset);
    }
  }

  /**
   * Data block `i`, from the mapping, the cache or the file: returns the
   * Buffer holding it (the mapping, the cache's arena, or memory of its own),
   * with its bytes at [at.start, at.end). An uncompressed block of a mapped
   * table is checked (CRC) and used where it lies in the mapping, every time,
   * and never cached: the OS page cache already holds it, and a check costs
   * less than a copy into the cache (LevelDB likewise reads mapped blocks in
   * place and never caches them). Otherwise a missed block is read straight
   * into the arena. Mapping and arena bytes are only valid until the table
   * closes or the next cache operation: copy what you keep. `fillCache` false
   * (compaction reads) leaves the cache as it was: a compaction's one pass
   * over its inputs would otherwise evict the blocks that readers reuse.
   */
  private locate(i: number, fillCache: boolean, ra?: ReadAhead): Buffer {
    const m = this.mapped;
    // A read-ahead cursor (compaction) takes whole windows instead: one copy per 256 KiB, blocks viewed in it.
    if (m !== undefined && ra === undefined) {
      const offset = this.blockOffsets[i]!;
      const end = offset + this.blockSizes[i]!;
      if (end + BLOCK_TRAILER_BYTES > m.length) throw this.corrupt('short read of block', offset);
      if (m[end] === Codec.none) {
        this.checkFrame(m, offset, offset, end - offset);
        at.start = offset;
        at.end = end;
        return m;
      }
    }
    const slots = this.slots;
    const cache = this.cache;
    if (cache.get(slots, i)) {
      at.start = slots.off[i]!;
      at.end = at.start + slots.len[i]!;
      return cache.arena;
    }
    const offset = this.blockOffsets[i]!;
    const size = this.blockSizes[i]!;
    let buf: Buffer;
    const arena = fillCache ? cache.alloc(size + BLOCK_TRAILER_BYTES) : undefined;
    if (arena !== undefined) {
      const start = cache.allocOffset;
      if (this.readFrame(arena, start, offset, size) === Codec.none) {
        cache.commit(slots, i, size);
        at.start = start;
        at.end = start + size;
        return arena;
      }
      buf = this.uncompress(arena.subarray(start, start + size), offset);
    } else {
      buf = this.readRaw(offset, size, ra);
    }
    if (fillCache && cache.set(slots, i, buf)) {
      at.start = slots.off[i]!;
      at.end = at.start + slots.len[i]!;
      return cache.arena;
    }
    at.start = 0;
    at.end = buf.length;
    return buf;
  }

  /** Data block `i` as a Buffer of its own (copied out of the cache's arena or the mapping, which outlive no read). */
  block(i: number, fillCache = true, ra?: ReadAhead): Buffer {
    const buf = this.locate(i, fillCache, ra);
    if (buf === this.cache.arena || buf === this.mapped) return Buffer.from(buf.subarray(at.start, at.end));
    return buf.subarray(at.start, at.end);
  }

  mayContain(hash: number): boolean {
    return bloomMayContain(this.bloom, hash);
  }

  /**
   * The first block whose last (key, seq) is >= (key, snapSeq) in internal
   * order (user key ascending, seq descending), or blockCount. snapSeq
   * Infinity finds the first block whose last key is >= key; -1 the first
   * whose last key is > key.
   */
  findBlock(key: Uint8Array, snapSeq: number): number {
    const prefixes = this.ixPrefixes;
    const p = keyPrefix(key);
    let lo = 0;
    let hi = this.blockCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const q = prefixes[mid]!;
      let below: boolean;
      if (q !== p) below = q < p;
      else {
        const c = this.compareIndexKey(mid, key);
        below = c < 0 || (c === 0 && this.ixSeqs[mid]! > snapSeq);
      }
      if (below) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sign of (index key i) - key, bytewise. */
  private compareIndexKey(i: number, key: Uint8Array): number {
    const keys = this.ixKeys;
    const start = this.ixKeyStarts[i]!;
    const len = this.ixKeyStarts[i + 1]! - start;
    const n = Math.min(len, key.length);
    for (let j = 0; j < n; j++) {
      const d = keys[start + j]! - key[j]!;
      if (d !== 0) return d;
    }
    return len - key.length;
  }

  /**
   * The newest version of `key` with seq <= snapSeq in this table: its value
   * (a copy: cached bytes get overwritten), null for a tombstone, undefined
   * if absent.
   */
  get(key: Buffer, snapSeq: number): Buffer | null | undefined {
    const bi = this.findBlock(key, snapSeq);
    if (bi >= this.blockCount) return undefined;
    const data = this.locate(bi, true);
    let hit: boolean;
    try {
      hit = blockGet(data, at.start, at.end, key, snapSeq);
    } catch (err) {
      throw this.rewrap(err, this.blockOffsets[bi]!);
    }
    if (!hit) return undefined;
    if (found.kind === 0) return null;
    const cache = this.cache;
    if (data === cache.arena) return copyOutOfArena(data, cache.view, found.valueStart, found.valueEnd);
    if (data === this.mapped) return copyOutOfArena(data, this.mappedView, found.valueStart, found.valueEnd);
    return copyOut(data, found.valueStart, found.valueEnd);
  }

  /** Closes the file and drops its blocks from the cache. */
  close(): void {
    this.cache.evictAll(this.slots);
    this.mapped = undefined;
    this.mappedView = NO_VIEW;
    this.file.close();
  }

  cursor(fillCache = true): TableCursor {
    return new TableCursor(this, fillCache);
  }

  /** @internal decodes block i into `into`, naming the file on damage. */
  decodeBlock(i: number, into: DecodedBlock, fillCache: boolean, ra?: ReadAhead): void {
    try {
      into.decode(this.block(i, fillCache, ra));
    } catch (err) {
      throw this.rewrap(err, this.blockOffsets[i]!);
    }
  }
}

/**
 * A positioned cursor over every entry (all versions) of a table, in internal
 * order, movable both ways. Positioning operations leave it invalid when they
 * run off either end.
 */
export interface EntryCursor {
  valid(): boolean;
  key(): string;
  seq(): number;
  kind(): number;
  value(): Buffer;
  /** First entry with user key >= k. */
  seekGE(k: string): void;
  /** Last entry with user key <= k. */
  seekLE(k: string): void;
  first(): void;
  last(): void;
  next(): void;
  prev(): void;
}

/** Binary search over sorted keys[0..n): the first index whose key is >= k (or > k when `after`). */
function searchKeys(keys: readonly string[], n: number, k: string, after: boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const x = keys[mid]!;
    if (x < k || (after && x === k)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class TableCursor implements EntryCursor {
  private readonly blk = new DecodedBlock();
  private bi = -1;
  private i = 0;
  /** A cursor that bypasses the cache (compaction) walks the file in order: it reads ahead. */
  private readonly ra: ReadAhead | undefined;

  constructor(
    private readonly table: SstableReader,
    private readonly fillCache: boolean,
  ) {
    this.ra = fillCache ? undefined : new ReadAhead();
  }

  valid(): boolean {
    return this.bi >= 0;
  }
  key(): string {
    return this.blk.keys[this.i]!;
  }
  seq(): number {
    return this.blk.seqs[this.i]!;
  }
  kind(): number {
    return this.blk.kinds[this.i]!;
  }
  value(): Buffer {
    return this.blk.value(this.i);
  }

  private load(bi: number): boolean {
    if (bi < 0 || bi >= this.table.blockCount) {
      this.bi = -1;
      return false;
    }
    if (bi !== this.bi) {
      this.table.decodeBlock(bi, this.blk, this.fillCache, this.ra);
      this.bi = bi;
    }
    return true;
  }

  seekGE(k: string): void {
    if (!this.load(this.table.findBlock(latin1Bytes(k), Infinity))) return;
    this.i = searchKeys(this.blk.keys, this.blk.count, k, false);
    if (this.i >= this.blk.count) this.next0();
  }

  seekLE(k: string): void {
    // The first block whose last key is > k may start with keys <= k.
    const bi = this.table.findBlock(latin1Bytes(k), -1);
    if (bi >= this.table.blockCount) {
      this.last();
      return;
    }
    if (!this.load(bi)) return;
    // The first entry > k, then one step back.
    this.i = searchKeys(this.blk.keys, this.blk.count, k, true);
    this.prev();
  }

  first(): void {
    if (this.load(0)) {
      this.i = 0;
      if (this.blk.count === 0) this.next0();
    }
  }

  last(): void {
    if (this.load(this.table.blockCount - 1)) {
      this.i = this.blk.count;
      this.prev();
    }
  }

  next(): void {
    if (this.bi < 0) return;
    this.i++;
    if (this.i >= this.blk.count) this.next0();
  }

  /** Moves to the first entry of the following non-empty block. */
  private next0(): void {
    let bi = this.bi + 1;
    while (this.load(bi)) {
      if (this.blk.count > 0) {
        this.i = 0;
        return;
      }
      bi++;
    }
  }

  prev(): void {
    if (this.bi < 0) return;
    this.i--;
    while (this.i < 0) {
      if (!this.load(this.bi - 1)) return;
      this.i = this.blk.count - 1;
    }
  }
}
