/**
 * Data and index blocks of an SSTable (uncompressed form).
 *
 * Entries are sorted in internal order: user key ascending, then sequence
 * number descending (newest version first). Each entry:
 *
 *   varint shared     bytes of the key shared with the previous entry's key
 *   varint unshared   bytes of the key that follow
 *   varint valueLen
 *   u8     kind       1 put, 0 delete (tombstone)
 *   u48 LE seq        sequence number of the write
 *   unshared key bytes
 *   value bytes
 *
 * Every `restartInterval`-th entry is a restart point: it stores its whole
 * key (shared = 0), so a reader can binary-search the restart points and
 * decode forward from there. The block ends with the restart offsets:
 *
 *   u32 LE offset of restart 0 ... u32 LE offset of restart n-1 | u32 LE n
 *
 * The builder takes keys and values as byte ranges (a memtable flush hands
 * it the bytes in the memtable's arena; no string or view per entry).
 */

import { assert } from '../../util/assert.ts';
import { toLatin1 } from '../../util/bytes.ts';
import { ByteWriter, getVarint, putVarint, type Cursor } from './coding.ts';

export const ENTRY_FIXED_BYTES = 7;

export class BlockBuilder {
  readonly out = new ByteWriter(8192);
  private restarts: number[] = [];
  private counter = 0;
  entries = 0;

  /** A DataView of out.buf (replaced when the writer grows). */
  private outBuf: Buffer = EMPTY;
  private outView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  /** The last value source without a DataView from the caller, and its DataView; others' by Buffer. */
  private srcBuf: Buffer = EMPTY;
  private srcView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private readonly srcViews = new WeakMap<Buffer, DataView<ArrayBufferLike>>();

  constructor(private readonly restartInterval: number) {
    assert(restartInterval >= 1, 'restart interval must be positive');
  }

  /** A DataView of vb's bytes (offsets as in vb), for a caller that has none at hand. */
  private viewOf(vb: Buffer): DataView<ArrayBufferLike> {
    if (vb === this.srcBuf) return this.srcView;
    let v = this.srcViews.get(vb);
    if (v === undefined) {
      v = new DataView(vb.buffer, vb.byteOffset, vb.byteLength);
      this.srcViews.set(vb, v);
    }
    this.srcBuf = vb;
    this.srcView = v;
    return v;
  }

  /**
   * Adds the entry with key kb[koff, koff + klen) and value vb[voff, voff + vlen).
   * `shared`: how many leading bytes the key shares with the previous key
   * added to this block (the caller compares keys anyway to check their
   * order: the block keeps no copy of its last key to compare again);
   * ignored at a restart point. `vview`: a DataView of vb (same offsets), if
   * the caller keeps one (a flush's arena chunk, a compaction's block).
   */
  add(
    kb: Uint8Array,
    koff: number,
    klen: number,
    shared: number,
    seq: number,
    kind: number,
    vb: Buffer,
    voff: number,
    vlen: number,
    vview?: DataView<ArrayBufferLike>,
  ): void {
    if (this.counter >= this.restartInterval || this.entries === 0) {
      this.restarts.push(this.out.len);
      this.counter = 0;
      shared = 0;
    }
    const out = this.out;
    const unshared = klen - shared;
    out.ensure(24 + unshared + vlen);
    const buf = out.buf;
    let pos = putVarint(buf, out.len, shared);
    pos = putVarint(buf, pos, unshared);
    pos = putVarint(buf, pos, vlen);
    buf[pos] = kind;
    // u48 little-endian by byte stores (Buffer#writeUIntLE checks its arguments first).
    const lo = seq % 0x100000000;
    const hi = (seq - lo) / 0x100000000;
    buf[pos + 1] = lo;
    buf[pos + 2] = lo >>> 8;
    buf[pos + 3] = lo >>> 16;
    buf[pos + 4] = lo >>> 24;
    buf[pos + 5] = hi;
    buf[pos + 6] = hi >>> 8;
    pos += 7;
    // Key suffixes and short values by a loop; a longer value by a native copy (for 100 bytes the copy
    // costs a third less; Buffer#copy would first go through JavaScript wrappers).
    for (let j = shared; j < klen; j++) buf[pos++] = kb[koff + j]!;
    if (vlen <= 32) for (let j = 0; j < vlen; j++) buf[pos++] = vb[voff + j]!;
    else if (vlen <= 256) {
      // Four bytes per step through DataViews (integers: every bit pattern is copied as is). For a 100-byte
      // value: ~100 ns, against ~145 ns for a view of the value (Buffer#subarray) and a native copy of it,
      // ~190-280 ns by a byte loop.
      if (buf !== this.outBuf) {
        this.outBuf = buf;
        this.outView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      }
      const dst = this.outView;
      const src = vview ?? this.viewOf(vb);
      let j = 0;
      for (; j + 4 <= vlen; j += 4) dst.setUint32(pos + j, src.getUint32(voff + j));
      for (; j < vlen; j++) buf[pos + j] = vb[voff + j]!;
      pos += vlen;
    } else {
      buf.set(voff === 0 && vlen === vb.length ? vb : vb.subarray(voff, voff + vlen), pos);
      pos += vlen;
    }
    out.len = pos;
    this.counter++;
    this.entries++;
  }

  /** Size of the block if finished now. */
  estimatedBytes(): number {
    return this.out.len + 4 * this.restarts.length + 4;
  }

  /** Appends the restart array; the returned view is valid until reset(). */
  finish(): Buffer {
    for (const r of this.restarts) this.out.u32(r);
    this.out.u32(this.restarts.length);
    return this.out.view();
  }

  reset(): void {
    this.out.reset();
    this.restarts = [];
    this.counter = 0;
    this.entries = 0;
  }
}

/** Result slots of blockGet (module-level to keep the point-read path allocation-free). */
export const found = { kind: 0, valueStart: 0, valueEnd: 0 };

const cur: Cursor = { pos: 0 };

/** Thrown (as a plain Error) by the block decoders; the table reader rewraps it with the file name. */
export class BlockFormatError extends Error {}

/** Little-endian u32 at `pos` (in bounds by the caller's checks); cheaper than Buffer#readUInt32LE's own checks. */
function u32(b: Buffer, pos: number): number {
  return (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16)) + b[pos + 3]! * 0x1000000;
}

/** The entry parsed last by parseEntry (module-level: no allocation per entry). */
const ent = { shared: 0, meta: 0, keyStart: 0, valueStart: 0, valueEnd: 0 };

/**
 * Parses the entry header at `pos` (entries end at `end`, where the restart
 * array starts) into `ent`; `prevKeyLen` bounds the shared prefix. Throws
 * BlockFormatError when a length is malformed or runs past the entries.
 */
function parseEntry(data: Buffer, pos: number, end: number, prevKeyLen: number): void {
  cur.pos = pos;
  const shared = getVarint(data, cur, end);
  const unshared = getVarint(data, cur, end);
  const vlen = getVarint(data, cur, end);
  const meta = cur.pos;
  const keyStart = meta + ENTRY_FIXED_BYTES;
  const valueStart = keyStart + unshared;
  if (shared < 0 || unshared < 0 || vlen < 0 || shared > prevKeyLen || valueStart + vlen > end)
    throw new BlockFormatError('bad entry');
  ent.shared = shared;
  ent.meta = meta;
  ent.keyStart = keyStart;
  ent.valueStart = valueStart;
  ent.valueEnd = valueStart + vlen;
}

/**
 * Whether `key` sorts after bytes [start, end) of `data`. A loop in JS: keys
 * differ within their first bytes, and Buffer#compare's native call cost more
 * than the comparison itself.
 */
function keyAbove(key: Uint8Array, data: Buffer, start: number, end: number): boolean {
  const n = Math.min(key.length, end - start);
  for (let i = 0; i < n; i++) {
    const a = key[i]!;
    const b = data[start + i]!;
    if (a !== b) return a > b;
  }
  return key.length > end - start;
}

/**
 * Point lookup inside one block, the bytes [start, end) of `data` (a block
 * cache segment or a block of its own): the first entry with user key ==
 * `key` and seq <= snapSeq. Returns true and fills `found` (offsets into
 * `data`), or false when the block has no such entry. Throws
 * BlockFormatError on a malformed block.
 *
 * Keys are compared in place, without rebuilding them: scanning forward from
 * a restart point, `matched` is the length of the common prefix of the
 * previous key and `key` (previous < key). An entry sharing more than
 * `matched` bytes with its predecessor is still < key; one sharing fewer is
 * already > key; only at equality are its new bytes compared.
 */
export function blockGet(data: Buffer, start: number, end: number, key: Uint8Array, snapSeq: number): boolean {
  const klen = key.length;
  if (end - start < 4) throw new BlockFormatError('block too short');
  const n = u32(data, end - 4);
  const restartsAt = end - 4 - 4 * n;
  if (n === 0 || restartsAt < start) throw new BlockFormatError('bad restart count');
  // Binary search: the last restart whose key is < key.
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    parseEntry(data, start + u32(data, restartsAt + 4 * mid), restartsAt, 0);
    if (keyAbove(key, data, ent.keyStart, ent.valueStart)) lo = mid;
    else hi = mid - 1;
  }
  let pos = start + u32(data, restartsAt + 4 * lo);
  let matched = 0;
  let keyLen = 0;
  while (pos < restartsAt) {
    parseEntry(data, pos, restartsAt, keyLen);
    const shared = ent.shared;
    const kstart = ent.keyStart;
    const unshared = ent.valueStart - kstart;
    keyLen = shared + unshared;
    pos = ent.valueEnd;
    if (shared === 0)
      matched = 0; // a restart point stores its whole key: compare from the start
    else if (shared > matched)
      continue; // same bytes as the previous key up to where it was already below key
    else if (shared < matched) return false; // rises above the previous key where that one still matched key: > key
    // shared == matched: compare the new bytes with key[matched..].
    let i = 0;
    const m = Math.min(klen - shared, unshared);
    while (i < m && key[shared + i] === data[kstart + i]) i++;
    matched = shared + i;
    let c: number;
    if (i < m) c = key[shared + i]! - data[kstart + i]!;
    else c = klen - keyLen;
    if (c < 0) return false;
    if (c === 0) {
      if (data.readUIntLE(ent.meta + 1, 6) <= snapSeq) {
        found.kind = data[ent.meta]!;
        found.valueStart = ent.valueStart;
        found.valueEnd = ent.valueEnd;
        return true;
      }
      // An older version follows with the same key: it shares the whole key.
      matched = keyLen;
    }
  }
  return false;
}

/**
 * A block decoded into parallel arrays, for iteration in either direction.
 * Decoding the whole block at once costs one pass and lets `prev` be as cheap
 * as `next` (the restart-point trick is only needed for point lookups).
 */
export class DecodedBlock {
  keys: string[] = [];
  seqs: number[] = [];
  kinds: number[] = [];
  valueStarts: number[] = [];
  valueEnds: number[] = [];
  count = 0;
  data: Buffer = EMPTY;

  decode(data: Buffer): void {
    this.data = data;
    const len = data.length;
    if (len < 4) throw new BlockFormatError('block too short');
    const n = data.readUInt32LE(len - 4);
    const restartsAt = len - 4 - 4 * n;
    if (restartsAt < 0) throw new BlockFormatError('bad restart count');
    let pos = 0;
    let i = 0;
    let keyLen = 0;
    while (pos < restartsAt) {
      parseEntry(data, pos, restartsAt, keyLen);
      // The key's bytes are rebuilt in a scratch buffer (shared prefix kept from the previous key) and read
      // out as one flat string: prefix.slice() + suffix made a concatenation (two allocations) that the
      // merge, the bloom hash and the index search then had to flatten (a third).
      const shared = ent.shared;
      const start = ent.keyStart;
      const unshared = ent.valueStart - start;
      keyLen = shared + unshared;
      if (keyLen > scratch.length) scratch = growScratch(scratch, keyLen, shared);
      for (let j = 0; j < unshared; j++) scratch[shared + j] = data[start + j]!;
      const key = toLatin1(scratch, 0, keyLen);
      this.keys[i] = key;
      this.kinds[i] = data[ent.meta]!;
      this.seqs[i] = data.readUIntLE(ent.meta + 1, 6);
      this.valueStarts[i] = ent.valueStart;
      this.valueEnds[i] = ent.valueEnd;
      pos = ent.valueEnd;
      i++;
    }
    this.count = i;
  }

  value(i: number): Buffer {
    return this.data.subarray(this.valueStarts[i], this.valueEnds[i]);
  }
}

/**
 * A forward walk over the entries of one block on bytes, for a compaction's
 * merge: the current key is rebuilt in place in `key` (its first `keyLen`
 * bytes; the next entry overwrites only the bytes it does not share), the
 * value is `data[valueStart, valueEnd)`. No string, view or array per entry:
 * DecodedBlock's latin1 keys, which the merge compared and the table builder
 * turned back into bytes, were a third of a compaction's CPU.
 */
export class BlockWalker {
  key: Buffer = Buffer.allocUnsafe(64);
  keyLen = 0;
  seq = 0;
  kind = 0;
  data: Buffer = EMPTY;
  /** A DataView of data (for the builder's value copy). */
  view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  valueStart = 0;
  valueEnd = 0;
  private pos = 0;
  private end = 0;

  /** Starts before the first entry of `data`. Throws BlockFormatError when its restart array is malformed. */
  reset(data: Buffer): void {
    const len = data.length;
    if (len < 4) throw new BlockFormatError('block too short');
    const restartsAt = len - 4 - 4 * u32(data, len - 4);
    if (restartsAt < 0) throw new BlockFormatError('bad restart count');
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = 0;
    this.end = restartsAt;
    this.keyLen = 0;
  }

  /** Moves to the next entry; false at the end of the block. Throws BlockFormatError on a malformed entry. */
  next(): boolean {
    const pos = this.pos;
    if (pos >= this.end) return false;
    const data = this.data;
    parseEntry(data, pos, this.end, this.keyLen);
    const shared = ent.shared;
    const start = ent.keyStart;
    const unshared = ent.valueStart - start;
    const keyLen = shared + unshared;
    if (keyLen > this.key.length) this.key = growScratch(this.key, keyLen, shared);
    const key = this.key;
    for (let j = 0; j < unshared; j++) key[shared + j] = data[start + j]!;
    this.keyLen = keyLen;
    const meta = ent.meta;
    this.kind = data[meta]!;
    // u48 little-endian, read without Buffer#readUIntLE's argument checks.
    this.seq = u32(data, meta + 1) + (data[meta + 5]! | (data[meta + 6]! << 8)) * 0x100000000;
    this.valueStart = ent.valueStart;
    this.valueEnd = ent.valueEnd;
    this.pos = ent.valueEnd;
    return true;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Scratch for DecodedBlock.decode's key rebuilding (module-level: decoding is synchronous). */
let scratch: Buffer = Buffer.allocUnsafe(256);

function growScratch(old: Buffer, need: number, keep: number): Buffer {
  const grown = Buffer.allocUnsafe(Math.max(need, old.length * 2));
  old.copy(grown, 0, 0, keep);
  return grown;
}
