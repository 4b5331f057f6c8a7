/**
 * Writes one SSTable from entries given in internal order (user key
 * ascending, sequence descending). See sstable-format.ts for the layout.
 *
 * The builder buffers file bytes and appends them in large chunks; the
 * caller syncs the file after `finish()` and only then records the table in
 * the manifest (a table the manifest names is always whole and durable).
 *
 * Invariant checked with assertions: entries arrive strictly in internal
 * order, so a table never holds two entries with the same (key, seq).
 */

import { assert } from '../../util/assert.ts';
import type { VfsFile } from '../vfs.ts';
import { BlockBuilder } from './block.ts';
import { toLatin1 } from '../../util/bytes.ts';
import { buildBloom, bloomHashRange, bloomHashString } from './bloom.ts';
import { ByteWriter, putVarint } from './coding.ts';
import { blockCrc, Codec, FOOTER_BYTES, FORMAT_VERSION, footerCrc, lz4Compress, MAGIC } from './sstable-format.ts';

export interface TableOptions {
  /** Target uncompressed size of a data block. */
  readonly blockBytes: number;
  /**
   * Entries per restart point in a data block. 4 (not LevelDB's 16): a point
   * read binary-searches the restarts and then scans at most 4 entries, so it
   * touches a few cache lines of a block instead of most of it
   * (measured ~5% less CPU per random get, 0.3% more bytes on disk).
   */
  readonly restartInterval: number;
  readonly bloomBitsPerKey: number;
  readonly compression: 'lz4' | 'none';
}

export const defaultTableOptions: TableOptions = {
  // 1 KiB: a get CRC-checks the whole block it reads (in place, with mapped tables); 12.5% less CPU per
  // random get than 2 KiB on a 1M-key tree, 1.7% more bytes on disk (docs/internals/storage.md, SSTable).
  blockBytes: 1024,
  restartInterval: 4,
  bloomBitsPerKey: 10,
  compression: 'lz4',
};

export interface TableInfo {
  readonly size: number;
  readonly entries: number;
  readonly smallest: string;
  readonly largest: string;
}

const FLUSH_BYTES = 512 * 1024;
const SKIP_AFTER_FAILURE_MIN = 8;
const SKIP_AFTER_FAILURE_MAX = 64;

export class SstableBuilder {
  private readonly data: BlockBuilder;
  private readonly index = new BlockBuilder(1);
  private readonly out = new ByteWriter(FLUSH_BYTES + 64 * 1024);
  private offset = 0;
  private readonly hashes: number[] = [];
  /** The last entry's key: last[0, lastLen) (lastLen -1 before the first entry). */
  private last: Buffer = Buffer.allocUnsafe(64);
  private lastLen = -1;
  private lastSeq = 0;
  /** The key bytes of add(string) (compaction's merge hands keys as latin1 strings). */
  private scratch: Buffer = Buffer.allocUnsafe(64);
  private readonly handle = Buffer.allocUnsafe(32);
  private smallest: string | undefined = undefined;
  private blocks = 0;
  /** Blocks to store uncompressed without trying, after LZ4 failed to shrink one. */
  private skipCompression = 0;
  /** The current skip after a failure: doubles with each further failure (up to 64), back to 8 after a success. */
  private skipAfterFailure = SKIP_AFTER_FAILURE_MIN;
  entries = 0;

  constructor(
    readonly file: VfsFile,
    private readonly opts: TableOptions = defaultTableOptions,
  ) {
    this.data = new BlockBuilder(opts.restartInterval);
  }

  /** Adds an entry whose key is a latin1 string (one char per byte). */
  add(key: string, seq: number, kind: number, value: Buffer): void {
    const n = key.length;
    if (n > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(n, 2 * this.scratch.length));
    const kb = this.scratch;
    for (let i = 0; i < n; i++) kb[i] = key.charCodeAt(i);
    this.addBytes(kb, 0, n, seq, kind, value, 0, value.length, bloomHashString(key));
  }

  /**
   * Adds the entry with key kb[koff, koff + klen) and value vb[voff, voff + vlen).
   * `hash`: the key's bloomHash if the caller has it, else -1 (computed here when needed).
   * `vview`: a DataView of vb, if the caller keeps one.
   */
  addBytes(
    kb: Uint8Array,
    koff: number,
    klen: number,
    seq: number,
    kind: number,
    vb: Buffer,
    voff: number,
    vlen: number,
    hash: number,
    vview?: DataView<ArrayBufferLike>,
  ): void {
    let last = this.last;
    const lastLen = this.lastLen;
    // Sign of key - last key, bytewise (entries arrive in internal order: a new key is larger).
    let c = 1;
    let shared = 0;
    if (lastLen >= 0) {
      const n = klen < lastLen ? klen : lastLen;
      while (shared < n && kb[koff + shared] === last[shared]) shared++;
      c = shared < n ? kb[koff + shared]! - last[shared]! : klen - lastLen;
      assert(c > 0 || (c === 0 && seq < this.lastSeq), 'sstable entries out of order');
    }
    if (c !== 0) {
      this.hashes.push(hash >= 0 ? hash : bloomHashRange(kb, koff, klen));
      if (klen > last.length) {
        const grown = Buffer.allocUnsafe(Math.max(klen, 2 * last.length));
        last.copy(grown, 0, 0, shared);
        this.last = last = grown;
      }
      for (let j = shared; j < klen; j++) last[j] = kb[koff + j]!;
      this.lastLen = klen;
      this.smallest ??= toLatin1(last, 0, klen);
    }
    this.data.add(kb, koff, klen, shared, seq, kind, vb, voff, vlen, vview);
    this.lastSeq = seq;
    this.entries++;
    if (this.data.estimatedBytes() >= this.opts.blockBytes) this.flushBlock();
  }

  /** Bytes written so far plus the open block: the caller cuts tables by this. */
  estimatedBytes(): number {
    return this.offset + this.out.len + this.data.estimatedBytes();
  }

  private flushBlock(): void {
    if (this.data.entries === 0) return;
    const raw = this.data.finish();
    const offset = this.offset + this.out.len;
    const size = this.writeBlock(raw, this.opts.compression === 'lz4' && this.skipCompression-- <= 0);
    this.data.reset();
    // Index entry: the block's last key and seq; value = varint offset, varint payload size.
    const h = this.handle;
    const hlen = putVarint(h, putVarint(h, 0, offset), size);
    this.index.add(this.last, 0, this.lastLen, 0, this.lastSeq, 0, h, 0, hlen);
    this.blocks++;
    if (this.out.len >= FLUSH_BYTES) this.flushOut();
  }

  /** Frames a block into the output; returns its payload size. */
  private writeBlock(raw: Buffer, compress: boolean): number {
    let payload: Buffer = raw;
    let codec: number = Codec.none;
    if (compress && raw.length >= 64) {
      const c = lz4Compress(raw);
      if (c.length <= raw.length - (raw.length >>> 3)) {
        payload = c;
        codec = Codec.lz4;
        this.skipCompression = 0;
        this.skipAfterFailure = SKIP_AFTER_FAILURE_MIN;
      } else {
        // Incompressible data (random or already compressed values) tends to come in long runs: after a
        // failure, try again only after 8 blocks, then 16, 32, 64 while it keeps failing, instead of paying
        // LZ4 for nothing on every block (at one try in 8 it was still 2% of a compaction's CPU).
        this.skipCompression = this.skipAfterFailure - 1;
        this.skipAfterFailure = Math.min(this.skipAfterFailure * 2, SKIP_AFTER_FAILURE_MAX);
      }
    }
    const start = this.out.len;
    this.out.bytes(payload);
    this.out.u8(codec);
    this.out.u32(blockCrc(this.out.buf, start, this.out.len));
    return payload.length;
  }

  private flushOut(): void {
    if (this.out.len === 0) return;
    this.file.append(this.out.view());
    this.offset += this.out.len;
    this.out.reset();
  }

  /** Writes bloom, index and footer. The caller must still sync and close the file. */
  finish(): TableInfo {
    assert(this.entries > 0, 'empty sstable');
    this.flushBlock();
    const bloomOffset = this.offset + this.out.len;
    const bloomSize = this.writeBlock(buildBloom(this.hashes, this.opts.bloomBitsPerKey), false);
    const indexOffset = this.offset + this.out.len;
    const indexSize = this.writeBlock(this.index.finish(), this.opts.compression === 'lz4');
    const footerAt = this.out.len;
    this.out.u64(indexOffset);
    this.out.u32(indexSize);
    this.out.u64(bloomOffset);
    this.out.u32(bloomSize);
    this.out.u32(FORMAT_VERSION);
    this.out.u32(this.blocks);
    this.out.u32(0); // CRC placeholder
    this.out.u32(0);
    this.out.bytes(MAGIC);
    const footer = this.out.buf.subarray(footerAt, footerAt + FOOTER_BYTES);
    footer.writeUInt32LE(footerCrc(footer), 32);
    this.flushOut();
    return {
      size: this.offset,
      entries: this.entries,
      smallest: this.smallest!,
      largest: toLatin1(this.last, 0, this.lastLen),
    };
  }
}
