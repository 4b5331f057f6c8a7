/**
 * Constants and framing shared by the SSTable builder and reader.
 *
 * File layout:
 *
 *   [data block 0] ... [data block n-1] [bloom block] [index block] [footer]
 *
 * Every block on disk is framed as
 *
 *   payload (compressed or not) | u8 codec | u32 LE CRC32(payload ++ codec)
 *
 * codec 0 = none, 1 = LZ4 (lz4-napi block format: u32 LE uncompressed size,
 * then the LZ4 block). A block is stored compressed only when LZ4 saves at
 * least 1/8 of it. A block handle (offset, payload size) points at the
 * payload; the frame adds 5 bytes.
 *
 * Footer, 48 bytes at the very end:
 *
 *   0  u64 LE index block offset     8  u32 LE index payload size
 *   12 u64 LE bloom block offset    20 u32 LE bloom payload size
 *   24 u32 LE format version (1)    28 u32 LE number of data blocks
 *   32 u32 LE CRC32 of bytes 0..31  36 u32 LE reserved (0)
 *   40 8 bytes magic "NXDBSST\x01"
 */

import lz4 from 'lz4-napi';
import { crc32 } from '../../util/crc32.ts';

export const FOOTER_BYTES = 48;
export const FORMAT_VERSION = 1;
export const MAGIC = Buffer.from('NXDBSST\x01', 'latin1');
export const BLOCK_TRAILER_BYTES = 5;
export const Codec = { none: 0, lz4: 1 } as const;

export function sstFileName(n: number): string {
  return `${String(n).padStart(6, '0')}.sst`;
}

/** The CRC of a block frame: bytes [start, end) of `frame` are the payload followed by its codec byte. */
export function blockCrc(frame: Uint8Array, start: number, end: number): number {
  return crc32(frame, start, end);
}

export function lz4Compress(raw: Buffer): Buffer {
  return lz4.compressSync(raw);
}

export function lz4Uncompress(payload: Buffer): Buffer {
  return lz4.uncompressSync(payload);
}

/** CRC32 of footer bytes 0..31. */
export function footerCrc(footer: Buffer): number {
  return crc32(footer, 0, 32);
}
