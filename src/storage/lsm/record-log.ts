/**
 * Record framing shared by the WAL segments and the manifest: a file is a
 * sequence of records, each
 *
 *   offset 0  u32 LE  payload length N
 *   offset 4  u32 LE  CRC32 (zlib) of the payload
 *   offset 8  u32 LE  CRC32 of bytes 0..7 (the header checksum)
 *   offset 12 N bytes payload
 *
 * The header has its own checksum so that a damaged length can never be
 * mistaken for a torn tail: "the record runs past the end of the file" is
 * trusted only when the header that says so is intact.
 *
 * Reading rules (recovery relies on them):
 *   - fewer than 12 bytes left at the end, or an intact header whose payload
 *     runs past the end: a torn tail (a crash interrupted the append). The
 *     reader stops there and reports the offset of the last whole record.
 *   - a header or payload checksum mismatch anywhere: CorruptionError naming
 *     the file and offset. Appends only ever lose a suffix; they never
 *     rewrite bytes, so a mismatch is damage, never a crash artefact.
 */

import { crc32 } from '../../util/crc32.ts';
import { CorruptionError } from '../../util/errors.ts';

export const RECORD_HEADER_BYTES = 12;
/** Upper bound on one record, so a damaged-but-checksummed length cannot ask for gigabytes. */
export const RECORD_BYTES_MAX = 1 << 30;

/** Frames `payload` (bytes [start, end) of `buf`, with 12 bytes reserved before `start`) in place. */
export function frameRecordInPlace(buf: Buffer, headerPos: number, payloadEnd: number): void {
  const payloadStart = headerPos + RECORD_HEADER_BYTES;
  const len = payloadEnd - payloadStart;
  buf.writeUInt32LE(len, headerPos);
  buf.writeUInt32LE(crc32(buf, payloadStart, payloadEnd), headerPos + 4);
  buf.writeUInt32LE(crc32(buf, headerPos, headerPos + 8), headerPos + 8);
}

/** A standalone framed record (manifest edits). */
export function frameRecord(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.set(payload, RECORD_HEADER_BYTES);
  frameRecordInPlace(out, 0, out.length);
  return out;
}

export interface LogReadResult {
  /** Payloads, as views into the file's bytes. */
  readonly records: Buffer[];
  /** Offset just past the last whole record. */
  readonly validEnd: number;
  /** True when bytes after validEnd were a torn (incomplete) record. */
  readonly torn: boolean;
}

export function readRecords(bytes: Buffer, file: string): LogReadResult {
  const records: Buffer[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < RECORD_HEADER_BYTES) return { records, validEnd: pos, torn: true };
    const headerCrc = bytes.readUInt32LE(pos + 8);
    if (crc32(bytes, pos, pos + 8) !== headerCrc)
      throw new CorruptionError(file, 'record header checksum mismatch', pos);
    const len = bytes.readUInt32LE(pos);
    if (len > RECORD_BYTES_MAX) throw new CorruptionError(file, `record length ${len} is too large`, pos);
    const start = pos + RECORD_HEADER_BYTES;
    if (start + len > bytes.length) return { records, validEnd: pos, torn: true };
    if (crc32(bytes, start, start + len) !== bytes.readUInt32LE(pos + 4))
      throw new CorruptionError(file, 'record checksum mismatch', pos);
    records.push(bytes.subarray(start, start + len));
    pos = start + len;
  }
  return { records, validEnd: pos, torn: false };
}
