/**
 * The memtable: the newest writes, in memory, sorted.
 *
 * A B+tree (`MemTree`, mem-tree.ts) of version chains ordered by their key
 * bytes, searched on six-byte key prefixes kept as numbers in its nodes. Keys
 * and values live in the memtable's arena; the chain head holds where its
 * key is (a key costs no object of its own).
 * Each key maps to a version chain, newest first:
 *
 *   "apple" -> {seq 42, put, v3} -> {seq 17, delete} -> {seq 5, put, v1}
 *
 * A reader at snapshot sequence S sees the first version with seq <= S. The
 * chain head is updated in place (the old head's fields move into a new
 * node behind it), so a put to an existing key costs one tree lookup.
 * Versions are never pruned while the memtable lives: a snapshot may still
 * need them; the flush drops the ones no snapshot can see.
 *
 * `bytes` approximates memory use (key + value + per-version overhead) and
 * decides when the engine freezes the memtable and starts a new one.
 *
 * A bloom filter over the keys (the SSTables' blocked layout, sized for a
 * full memtable) lets a point read skip the memtable without converting its
 * key to latin1 or descending the tree: most point reads ask for keys written
 * long ago, and the conversion plus the descent were a fifth of a read.
 */

import { OpKind } from '../write-batch.ts';
import { toLatin1 } from '../../util/bytes.ts';
import { bloomAdd, bloomHash, bloomMayContain, emptyBloom } from './bloom.ts';
import { MemTree } from './mem-tree.ts';

/** Estimated bytes of bookkeeping per version (node object, tree slot). */
const VERSION_OVERHEAD_BYTES = 48;

/**
 * One version of a key. The value lives in the memtable's arena (`chunk`,
 * `off`, `len`) rather than in a Buffer of its own: a long-lived Buffer per
 * entry was a third of the objects the garbage collector had to trace in a
 * full memtable. `value` makes a view on demand (short-lived garbage).
 */
export class MemVersion {
  constructor(
    public seq: number,
    public kind: OpKind,
    public chunk: Buffer,
    public off: number,
    public len: number,
    public older: MemVersion | undefined,
    /** The key's bytes: kbuf[koff, koff + klen) (in the arena; the same for every version of a chain). */
    readonly kbuf: Buffer,
    readonly koff: number,
    readonly klen: number,
    /** The key's bloomHash (its filter's and its table's). */
    readonly hash: number,
  ) {}

  get value(): Buffer {
    return this.chunk.subarray(this.off, this.off + this.len);
  }

  /** The key as a latin1 string (one char per byte: string order is byte order). */
  get keyString(): string {
    return toLatin1(this.kbuf, this.koff, this.koff + this.klen);
  }
}

/** Arena chunk size; values above a quarter of it get a chunk of their own. */
const CHUNK_BYTES = 256 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

/** The newest version of a chain visible at `snapSeq`, if any. */
export function visibleVersion(head: MemVersion | undefined, snapSeq: number): MemVersion | undefined {
  let v = head;
  while (v !== undefined && v.seq > snapSeq) v = v.older;
  return v;
}

/**
 * Filter bits per byte of memtable budget: a version costs at least
 * VERSION_OVERHEAD_BYTES + key + value (~60 bytes), so a full memtable gets
 * 7 or more bits per key (under 3% false positives with 5 probes).
 */
const FILTER_BITS_PER_BYTE = 1 / 8;
const FILTER_PROBES = 5;

export class Memtable {
  readonly tree = new MemTree<MemVersion>();
  bytes = 0;
  /** Number of versions held. */
  entries = 0;
  /** The WAL segment holding this memtable's writes. */
  readonly walNumber: number;
  private readonly filter: Buffer;

  /** `budgetBytes`: the size at which the engine freezes it (sizes the key filter). */
  constructor(walNumber: number, budgetBytes = 4 << 20) {
    this.walNumber = walNumber;
    this.filter = emptyBloom(Math.max(1, Math.ceil((budgetBytes * FILTER_BITS_PER_BYTE) / 512)), FILTER_PROBES);
  }

  /** False when no version of the key with this bloomHash is here. */
  mayContain(hash: number): boolean {
    return bloomMayContain(this.filter, hash);
  }

  private chunk: Buffer = EMPTY;
  private chunkUsed = 0;

  /** Copies b into the arena; sets `at` to the chunk and offset holding it. */
  private copyIn(b: Uint8Array): Buffer {
    const len = b.length;
    if (len > CHUNK_BYTES / 4) {
      this.at = 0;
      const own = Buffer.allocUnsafe(len);
      own.set(b);
      return own;
    }
    if (this.chunkUsed + len > this.chunk.length) {
      this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      this.chunkUsed = 0;
    }
    const chunk = this.chunk;
    const off = this.chunkUsed;
    // Short keys and values by a loop: a native copy costs more than copying a few dozen bytes.
    if (len <= 32) for (let j = 0; j < len; j++) chunk[off + j] = b[j]!;
    else chunk.set(b, off);
    this.chunkUsed = off + len;
    this.at = off;
    return chunk;
  }

  private at = 0;

  /** Adds a version; key and value are copied into the arena (the caller may reuse its buffers). */
  add(key: Uint8Array, seq: number, kind: OpKind, value: Uint8Array): void {
    const len = value.length;
    const chunk = this.copyIn(value);
    const off = this.at;
    const kchunk = this.copyIn(key);
    const koff = this.at;
    const hash = bloomHash(key);
    // One descent: inserts a new key, or finds the chain head of an existing one.
    const head = this.tree.insertOrGet(
      key,
      new MemVersion(seq, kind, chunk, off, len, undefined, kchunk, koff, key.length, hash),
    );
    if (head === undefined) {
      bloomAdd(this.filter, hash);
      this.bytes += key.length + len + VERSION_OVERHEAD_BYTES;
    } else {
      // The key's copy just made is not needed: the chain head has one (give the bytes back if they are last).
      if (kchunk === this.chunk && koff + key.length === this.chunkUsed) this.chunkUsed = koff;
      head.older = new MemVersion(
        head.seq,
        head.kind,
        head.chunk,
        head.off,
        head.len,
        head.older,
        head.kbuf,
        head.koff,
        head.klen,
        head.hash,
      );
      head.seq = seq;
      head.kind = kind;
      head.chunk = chunk;
      head.off = off;
      head.len = len;
      this.bytes += len + VERSION_OVERHEAD_BYTES;
    }
    this.entries++;
  }

  /** The version chain of the key, newest first, if any. */
  get(key: Uint8Array): MemVersion | undefined {
    return this.tree.get(key);
  }

  get empty(): boolean {
    return this.entries === 0;
  }
}
