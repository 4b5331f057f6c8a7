/**
 * The block cache: uncompressed, checksum-verified SSTable blocks kept in
 * memory under a byte budget.
 *
 * All blocks live in one arena, a Buffer of the budget's size (allocated at
 * the first insertion), cut into equal segments (1 MiB, smaller for a small
 * budget). A cached block is a (segment, offset, length) triple in its
 * table's typed arrays; the cache keeps no heap object per block for the
 * garbage collector to trace or promote (a 64 MiB cache of per-block objects
 * cost more CPU per read in GC than it saved in file reads), and a miss reads
 * the block from the file straight into the arena, with no allocation.
 *
 *   table slots (per SstableReader, one entry per data block)
 *     seg[i] = segment + 1 (0: not cached)   off[i] (in the arena), len[i], ref[i]
 *
 *   arena:  [seg 0][seg 1][seg 2] ... [seg n-1]
 *                    ^ head: blocks are appended here; when it is full the
 *                      next segment (round robin: the oldest) becomes head
 *
 * Lookup is an array access by table and block index. Eviction takes the
 * oldest segment as a whole, with a second chance (CLOCK's reference bit,
 * per block): blocks hit since they were inserted or last kept are moved to
 * the front of that segment (copyWithin inside the arena, up to half of it)
 * instead of being dropped, and new blocks follow them. A hit only sets ref[i].
 *
 * Arena bytes are overwritten when their segment is reused, so nothing may
 * keep a view of them: readers copy a value out (SstableReader.get) or a block
 * (cursors) before the next cache operation.
 *
 * A block larger than half a segment is not cached.
 */

import { constants } from 'node:buffer';

/** One table's view of the cache: block i is cached when seg[i] > 0. */
export class CacheSlots {
  /** Segment + 1 of the segment holding block i; 0 when not cached. */
  readonly seg: Int32Array;
  /** Offset of block i in the arena (unsigned: an arena may exceed 2 GiB), and its length. */
  readonly off: Uint32Array;
  readonly len: Int32Array;
  /** Block i was hit since it was inserted or last kept (second chance). */
  readonly ref: Uint8Array;
  /** This table's number in the cache, assigned at its first insertion; -1 before. */
  id = -1;

  constructor(blocks: number) {
    this.seg = new Int32Array(blocks);
    this.off = new Uint32Array(blocks);
    this.len = new Int32Array(blocks);
    this.ref = new Uint8Array(blocks);
  }
}

const MAX_LENGTH = constants.MAX_LENGTH;
const MAX_SEGMENT_BYTES = 1 << 20;
const MIN_SEGMENT_BYTES = 4096;
const EMPTY: Buffer = Buffer.alloc(0);

export class BlockCache {
  /** Every cached block's bytes (empty until the first insertion). */
  arena: Buffer = EMPTY;
  /** A DataView of the arena, for word-wise copies out of it (SstableReader.get). */
  view: DataView = new DataView(EMPTY.buffer, EMPTY.byteOffset, 0);
  /** Blocks of at most this many bytes are cached. */
  readonly maxBlockBytes: number;
  /** Where the block reserved by the last alloc() goes in the arena. */
  allocOffset = 0;
  /** Bytes of the blocks cached now. */
  bytes = 0;
  entries = 0;
  hits = 0;
  misses = 0;
  private readonly segmentBytes: number;
  private readonly segments: number;
  /** Size of the arena once allocated: the budget, rounded down to whole segments. */
  get arenaBytes(): number {
    return this.segments * this.segmentBytes;
  }
  /** Per segment: bytes used from its start. */
  private readonly used: Int32Array;
  /** Per segment: (table id, block index, arena offset) of every block written there, in offset order. */
  private readonly written: number[][];
  private head = 0;
  private readonly tables: (CacheSlots | undefined)[] = [];
  private readonly freeTableIds: number[] = [];

  constructor(readonly capacityBytes: number) {
    this.segmentBytes = Math.min(MAX_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, Math.floor(capacityBytes / 8)));
    // The arena is one Buffer: a budget over the largest Buffer (4 GiB) is cut to it (offsets are u32s).
    this.segments = Math.max(0, Math.floor(Math.min(capacityBytes, MAX_LENGTH) / this.segmentBytes));
    this.maxBlockBytes = this.segments === 0 ? 0 : this.segmentBytes >>> 1;
    this.used = new Int32Array(this.segments);
    this.written = Array.from({ length: this.segments }, () => []);
  }

  /** True when block i is cached: its bytes are arena[off[i], off[i] + len[i]). Counts a hit or a miss. */
  get(slots: CacheSlots, i: number): boolean {
    if (slots.seg[i] === 0) {
      this.misses++;
      return false;
    }
    this.hits++;
    slots.ref[i] = 1;
    return true;
  }

  /**
   * Reserves n bytes for a block about to be read: returns the arena (write
   * at allocOffset), or undefined when a block of n bytes is not cached.
   * Nothing is cached until commit(); a later alloc() reuses the space.
   */
  alloc(n: number): Buffer | undefined {
    if (n > this.maxBlockBytes || n <= 0) return undefined;
    if (this.arena.length === 0) {
      this.arena = Buffer.allocUnsafeSlow(this.arenaBytes);
      this.view = new DataView(this.arena.buffer, this.arena.byteOffset, this.arena.length);
    }
    if (this.used[this.head]! + n > this.segmentBytes) this.advance();
    this.allocOffset = this.head * this.segmentBytes + this.used[this.head]!;
    return this.arena;
  }

  /** Records the `len` bytes written at the last alloc() as block i of `slots`. */
  commit(slots: CacheSlots, i: number, len: number): void {
    if (slots.id < 0) {
      slots.id = this.freeTableIds.pop() ?? this.tables.length;
      this.tables[slots.id] = slots;
    }
    if (slots.seg[i] !== 0) {
      this.bytes -= slots.len[i]!;
      this.entries--;
    }
    const off = this.allocOffset;
    slots.seg[i] = this.head + 1;
    slots.off[i] = off;
    slots.len[i] = len;
    slots.ref[i] = 0;
    this.written[this.head]!.push(slots.id, i, off);
    this.used[this.head] = off + len - this.head * this.segmentBytes;
    this.bytes += len;
    this.entries++;
  }

  /** Copies `block` into the cache as block i of `slots`; false when it is not cached (too large). */
  set(slots: CacheSlots, i: number, block: Uint8Array): boolean {
    const arena = this.alloc(block.length);
    if (arena === undefined) return false;
    arena.set(block, this.allocOffset);
    this.commit(slots, i, block.length);
    return true;
  }

  /** Drops every block of a table (when it is closed). */
  evictAll(slots: CacheSlots): void {
    for (let i = 0; i < slots.seg.length; i++) {
      if (slots.seg[i] === 0) continue;
      slots.seg[i] = 0;
      this.bytes -= slots.len[i]!;
      this.entries--;
    }
    if (slots.id >= 0) {
      this.tables[slots.id] = undefined;
      this.freeTableIds.push(slots.id);
      slots.id = -1;
    }
  }

  /**
   * Makes the next segment (the oldest) the head: its referenced blocks move
   * to its front, up to half of it, and the rest are dropped.
   */
  private advance(): void {
    const s = (this.head + 1) % this.segments;
    const base = s * this.segmentBytes;
    const keep = base + (this.segmentBytes >>> 1);
    const old = this.written[s]!;
    const kept: number[] = [];
    let to = base;
    for (let j = 0; j < old.length; j += 3) {
      const slots = this.tables[old[j]!];
      const i = old[j + 1]!;
      const off = old[j + 2]!;
      if (slots === undefined || slots.seg[i] !== s + 1 || slots.off[i] !== off) continue; // replaced or table closed
      const len = slots.len[i]!;
      if (slots.ref[i] === 1 && to + len <= keep) {
        // Offsets only decrease (blocks were written in offset order), so copyWithin never clobbers a later block.
        if (to !== off) this.arena.copyWithin(to, off, off + len);
        slots.off[i] = to;
        slots.ref[i] = 0;
        kept.push(slots.id, i, to);
        to += len;
      } else {
        slots.seg[i] = 0;
        this.bytes -= len;
        this.entries--;
      }
    }
    this.written[s] = kept;
    this.used[s] = to - base;
    this.head = s;
  }
}
