/**
 * The memtable: the newest writes, in memory, sorted.
 *
 * Keys and values live in the memtable's arena (256 KiB chunks); everything
 * else lives in typed arrays, so a memtable of any size is a handful of
 * objects for the garbage collector (a heap object per version was ~1 s of
 * scavenging per million writes: each one lived as long as its memtable and
 * was copied twice on its way to the old generation).
 *
 *   key id k      keyMeta[k * KEY_STRIDE ..]: arena chunk, offset, length of
 *                 the key's bytes; the newest version's id; the bloom hash
 *   version id v  verMeta[v * VER_STRIDE ..]: arena chunk, offset, length of
 *                 the value; kind; the next older version's id (-1: none)
 *                 verSeq[v]: the sequence number
 *
 * `MemTree` (mem-tree.ts) orders the key ids by their key bytes. Each key maps
 * to a version chain, newest first:
 *
 *   "apple" -> {seq 42, put, v3} -> {seq 17, delete} -> {seq 5, put, v1}
 *
 * A reader at snapshot sequence S sees the first version with seq <= S.
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
import { KEY_CHUNK, KEY_LEN, KEY_OFF, KEY_STRIDE, MemTree, type KeyStore } from './mem-tree.ts';

/** Estimated bytes of bookkeeping per version (typed-array slots, tree slot, growth slack). */
const VERSION_OVERHEAD_BYTES = 48;

/** keyMeta slots the memtable adds after the tree's three. */
const KEY_HEAD = 3;
const KEY_HASH = 4;

/** verMeta layout: VER_STRIDE ints per version id. */
const VER_CHUNK = 0;
const VER_OFF = 1;
const VER_LEN = 2;
const VER_KIND = 3;
const VER_OLDER = 4;
const VER_STRIDE = 5;

/** Arena chunk size; values above a quarter of it get a chunk of their own. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Filter bits per byte of memtable budget: a version costs at least
 * VERSION_OVERHEAD_BYTES + key + value (~60 bytes), so a full memtable gets
 * 7 or more bits per key (under 3% false positives with 5 probes).
 */
const FILTER_BITS_PER_BYTE = 1 / 8;
const FILTER_PROBES = 5;

export class Memtable implements KeyStore {
  readonly tree: MemTree;
  bytes = 0;
  /** Number of versions held. */
  entries = 0;
  /** The WAL segment holding this memtable's writes. */
  readonly walNumber: number;
  private readonly filter: Buffer;
  /** Arena chunks (KeyStore). */
  readonly chunks: Buffer[] = [];
  /** A DataView of each arena chunk (a flush's builder copies values through them). */
  private readonly chunkViews: DataView<ArrayBufferLike>[] = [];
  keyMeta: Int32Array;
  verMeta: Int32Array;
  verSeq: Float64Array;
  private keys = 0;
  private chunk = -1;
  private chunkUsed = CHUNK_BYTES;

  /** `budgetBytes`: the size at which the engine freezes it (sizes the key filter). */
  constructor(walNumber: number, budgetBytes = 4 << 20) {
    this.walNumber = walNumber;
    this.filter = emptyBloom(Math.max(1, Math.ceil((budgetBytes * FILTER_BITS_PER_BYTE) / 512)), FILTER_PROBES);
    // Sized for the budget at ~128 bytes per write (a 16-byte key and a 100-byte value fit without growing).
    const versions = Math.max(1024, budgetBytes >>> 7);
    this.tree = new MemTree(this, versions);
    this.keyMeta = new Int32Array(versions * KEY_STRIDE);
    this.verMeta = new Int32Array(versions * VER_STRIDE);
    this.verSeq = new Float64Array(versions);
  }

  /** False when no version of the key with this bloomHash is here. */
  mayContain(hash: number): boolean {
    return bloomMayContain(this.filter, hash);
  }

  /** Copies b into the arena; returns its chunk index and sets `at` to its offset. */
  private copyIn(b: Uint8Array): number {
    const len = b.length;
    if (len > CHUNK_BYTES / 4) {
      const own = Buffer.allocUnsafe(len);
      own.set(b);
      this.at = 0;
      return this.addChunk(own);
    }
    if (this.chunk < 0 || this.chunkUsed + len > CHUNK_BYTES) {
      this.chunk = this.addChunk(Buffer.allocUnsafe(CHUNK_BYTES));
      this.chunkUsed = 0;
    }
    const chunk = this.chunks[this.chunk]!;
    const off = this.chunkUsed;
    // Short keys and values by a loop: a native copy costs more than copying a few dozen bytes.
    if (len <= 32) for (let j = 0; j < len; j++) chunk[off + j] = b[j]!;
    else chunk.set(b, off);
    this.chunkUsed = off + len;
    this.at = off;
    return this.chunk;
  }

  private at = 0;

  private addChunk(chunk: Buffer): number {
    this.chunkViews.push(new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    return this.chunks.push(chunk) - 1;
  }

  /** Adds a version; key and value are copied into the arena (the caller may reuse its buffers). */
  add(key: Uint8Array, seq: number, kind: OpKind, value: Uint8Array): void {
    const v = this.entries;
    if (v * VER_STRIDE >= this.verMeta.length) this.growVersions();
    const vm = this.verMeta;
    const vat = v * VER_STRIDE;
    const len = value.length;
    vm[vat + VER_CHUNK] = this.copyIn(value);
    vm[vat + VER_OFF] = this.at;
    vm[vat + VER_LEN] = len;
    vm[vat + VER_KIND] = kind;
    this.verSeq[v] = seq;
    // One descent: inserts a new key id, or finds the id of an existing key.
    const k = this.keys;
    if (k * KEY_STRIDE >= this.keyMeta.length) this.growKeys();
    const found = this.tree.insertOrGet(key, k);
    const km = this.keyMeta;
    if (found < 0) {
      const kat = k * KEY_STRIDE;
      km[kat + KEY_CHUNK] = this.copyIn(key);
      km[kat + KEY_OFF] = this.at;
      km[kat + KEY_LEN] = key.length;
      km[kat + KEY_HEAD] = v;
      const hash = bloomHash(key);
      km[kat + KEY_HASH] = hash;
      vm[vat + VER_OLDER] = -1;
      bloomAdd(this.filter, hash);
      this.keys = k + 1;
      this.bytes += key.length + len + VERSION_OVERHEAD_BYTES;
    } else {
      const fat = found * KEY_STRIDE + KEY_HEAD;
      vm[vat + VER_OLDER] = km[fat]!;
      km[fat] = v;
      this.bytes += len + VERSION_OVERHEAD_BYTES;
    }
    this.entries = v + 1;
  }

  private growVersions(): void {
    const vm = new Int32Array(this.verMeta.length * 2);
    vm.set(this.verMeta);
    this.verMeta = vm;
    const seq = new Float64Array(this.verSeq.length * 2);
    seq.set(this.verSeq);
    this.verSeq = seq;
  }

  private growKeys(): void {
    const km = new Int32Array(this.keyMeta.length * 2);
    km.set(this.keyMeta);
    this.keyMeta = km;
  }

  /** The newest version of the key, or -1 if the key is not here. */
  get(key: Uint8Array): number {
    const k = this.tree.get(key);
    return k < 0 ? -1 : this.keyMeta[k * KEY_STRIDE + KEY_HEAD]!;
  }

  /** The newest version of key id k. */
  head(k: number): number {
    return this.keyMeta[k * KEY_STRIDE + KEY_HEAD]!;
  }

  /** The key's bloomHash. */
  keyHash(k: number): number {
    return this.keyMeta[k * KEY_STRIDE + KEY_HASH]! >>> 0;
  }

  /** The arena chunk holding key k's bytes (at keyOff(k), keyLen(k) bytes). */
  keyChunk(k: number): Buffer {
    return this.chunks[this.keyMeta[k * KEY_STRIDE + KEY_CHUNK]!]!;
  }
  keyOff(k: number): number {
    return this.keyMeta[k * KEY_STRIDE + KEY_OFF]!;
  }
  keyLen(k: number): number {
    return this.keyMeta[k * KEY_STRIDE + KEY_LEN]!;
  }

  /** A view of key k's bytes. */
  keyBytes(k: number): Buffer {
    const at = k * KEY_STRIDE;
    const m = this.keyMeta;
    return this.chunks[m[at + KEY_CHUNK]!]!.subarray(m[at + KEY_OFF], m[at + KEY_OFF]! + m[at + KEY_LEN]!);
  }

  /** Key k as a latin1 string (one char per byte: string order is byte order). */
  keyString(k: number): string {
    const at = k * KEY_STRIDE;
    const m = this.keyMeta;
    const off = m[at + KEY_OFF]!;
    return toLatin1(this.chunks[m[at + KEY_CHUNK]!]!, off, off + m[at + KEY_LEN]!);
  }

  seq(v: number): number {
    return this.verSeq[v]!;
  }
  kind(v: number): number {
    return this.verMeta[v * VER_STRIDE + VER_KIND]!;
  }
  /** The next older version of the same key, or -1. */
  older(v: number): number {
    return this.verMeta[v * VER_STRIDE + VER_OLDER]!;
  }
  /** The arena chunk holding version v's value (at valueOff(v), valueLen(v) bytes). */
  valueChunk(v: number): Buffer {
    return this.chunks[this.verMeta[v * VER_STRIDE + VER_CHUNK]!]!;
  }
  /** A DataView of valueChunk(v). */
  valueView(v: number): DataView<ArrayBufferLike> {
    return this.chunkViews[this.verMeta[v * VER_STRIDE + VER_CHUNK]!]!;
  }
  valueOff(v: number): number {
    return this.verMeta[v * VER_STRIDE + VER_OFF]!;
  }
  valueLen(v: number): number {
    return this.verMeta[v * VER_STRIDE + VER_LEN]!;
  }

  /** A view of version v's value. */
  value(v: number): Buffer {
    const at = v * VER_STRIDE;
    const m = this.verMeta;
    const off = m[at + VER_OFF]!;
    return this.chunks[m[at + VER_CHUNK]!]!.subarray(off, off + m[at + VER_LEN]!);
  }

  /**
   * Reads, for the key ids ids[from, to), the lines a flush is about to read
   * at random: the key's record, its newest version's record and sequence
   * number, and the first and last bytes of its key and value in the arena.
   * The loads of one key do not wait for those of the previous one, so the
   * CPU overlaps their cache misses, which the flush, with a table build
   * between two keys, takes one after the other. Returns a number made of
   * what it read, only so that the loads are not optimized away.
   */
  touch(ids: Int32Array, from: number, to: number): number {
    const km = this.keyMeta;
    const vm = this.verMeta;
    const seqs = this.verSeq;
    const chunks = this.chunks;
    let sum = 0;
    for (let i = from; i < to; i++) {
      const kat = ids[i]! * KEY_STRIDE;
      const kc = chunks[km[kat + KEY_CHUNK]!]!;
      const koff = km[kat + KEY_OFF]!;
      const v = km[kat + KEY_HEAD]!;
      const vat = v * VER_STRIDE;
      const vc = chunks[vm[vat + VER_CHUNK]!]!;
      const voff = vm[vat + VER_OFF]!;
      const vlen = vm[vat + VER_LEN]!;
      sum += kc[koff + km[kat + KEY_LEN]! - 1]! + kc[koff]! + seqs[v]!;
      if (vlen > 0) sum += vc[voff]! + vc[voff + vlen - 1]!;
    }
    return sum;
  }

  /** The newest version at or below `snapSeq`, starting from version v (-1: none). */
  visible(v: number, snapSeq: number): number {
    const seqs = this.verSeq;
    while (v >= 0 && seqs[v]! > snapSeq) v = this.verMeta[v * VER_STRIDE + VER_OLDER]!;
    return v;
  }

  get empty(): boolean {
    return this.entries === 0;
  }
}
