/**
 * Variable-length integers (LEB128, as in protobuf and Go's encoding/binary)
 * for the storage and wire layers: lengths, counts, sequence numbers.
 *
 *   unsigned:  7 value bits per byte, least significant group first, the high
 *              bit set on every byte but the last.
 *   signed:    zigzag first (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...), so small
 *              magnitudes of either sign stay short.
 *
 * Variants: `*32` take and return JavaScript numbers (unsigned 0..2^32-1,
 * signed -2^31..2^31-1, at most 5 bytes); `*64` take and return bigints
 * (unsigned 0..2^64-1, signed int64, at most 10 bytes).
 *
 * Reading many values: `VarintCursor` returns plain values and advances its
 * offset (no object per value); `read*` return `{ value, offset }`.
 *
 * Varints are NOT order-preserving; keys use key-codec.ts instead.
 *
 * Reading is strict: a truncated varint, one longer than its variant allows,
 * a non-minimal encoding (a trailing 0x00 group) or a value that overflows the
 * variant throws NextDbError with SqlState.dataCorrupted. Writers do not grow
 * the buffer; callers size it with the `*Length` functions (a RangeError when
 * it is too small, as Buffer itself does).
 */

import { NextDbError, SqlState } from '../util/errors.ts';

/** A decoded value and the offset just past it. */
export interface VarintRead<T> {
  readonly value: T;
  readonly offset: number;
}

const UINT32_MAX = 0xffff_ffff;
const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

export function uvarint32Length(v: number): number {
  checkUint32(v);
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes v at `offset`; returns the offset after it. */
export function writeUvarint32(buf: Uint8Array, offset: number, v: number): number {
  checkUint32(v);
  checkRoom(buf, offset, uvarint32Length(v));
  // >>> 0 keeps the arithmetic unsigned for values >= 2^31.
  let x = v >>> 0;
  while (x >= 0x80) {
    buf[offset++] = (x & 0x7f) | 0x80;
    x >>>= 7;
  }
  buf[offset++] = x;
  return offset;
}

export function readUvarint32(buf: Uint8Array, offset: number): VarintRead<number> {
  const c = new VarintCursor(buf, offset);
  const value = c.uvarint32();
  return { value, offset: c.offset };
}

export function uvarint64Length(v: bigint): number {
  checkUint64(v);
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

export function writeUvarint64(buf: Uint8Array, offset: number, v: bigint): number {
  checkUint64(v);
  checkRoom(buf, offset, uvarint64Length(v));
  // Numbers are exact below 2^53; only the high part needs bigint steps.
  while (v >= 1n << 53n) {
    buf[offset++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  let x = Number(v);
  while (x >= 0x80) {
    buf[offset++] = (x % 128) | 0x80;
    x = Math.floor(x / 128);
  }
  buf[offset++] = x;
  return offset;
}

export function readUvarint64(buf: Uint8Array, offset: number): VarintRead<bigint> {
  const c = new VarintCursor(buf, offset);
  const value = c.uvarint64();
  return { value, offset: c.offset };
}

/** Zigzag of a signed 32-bit integer, as an unsigned 32-bit number. */
export function zigzagEncode32(v: number): number {
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw new RangeError(`varint: ${v} is not an int32`);
  return ((v << 1) ^ (v >> 31)) >>> 0;
}

export function zigzagDecode32(u: number): number {
  return (u >>> 1) ^ -(u & 1);
}

export function zigzagEncode64(v: bigint): bigint {
  if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`varint: ${v} is not an int64`);
  return v >= 0n ? v << 1n : (-v << 1n) - 1n;
}

export function zigzagDecode64(u: bigint): bigint {
  return (u & 1n) === 0n ? u >> 1n : -((u + 1n) >> 1n);
}

export function varint32Length(v: number): number {
  return uvarint32Length(zigzagEncode32(v));
}

export function writeVarint32(buf: Uint8Array, offset: number, v: number): number {
  return writeUvarint32(buf, offset, zigzagEncode32(v));
}

export function readVarint32(buf: Uint8Array, offset: number): VarintRead<number> {
  const c = new VarintCursor(buf, offset);
  const value = c.varint32();
  return { value, offset: c.offset };
}

export function varint64Length(v: bigint): number {
  return uvarint64Length(zigzagEncode64(v));
}

export function writeVarint64(buf: Uint8Array, offset: number, v: bigint): number {
  return writeUvarint64(buf, offset, zigzagEncode64(v));
}

export function readVarint64(buf: Uint8Array, offset: number): VarintRead<bigint> {
  const c = new VarintCursor(buf, offset);
  const value = c.varint64();
  return { value, offset: c.offset };
}

/**
 * Reads consecutive varints without allocating per value: each method
 * returns the value and advances `offset`. The read* functions above are
 * this cursor used once. A failed read leaves `offset` where it was.
 */
export class VarintCursor {
  offset: number;
  private readonly buf: Uint8Array;

  constructor(buf: Uint8Array, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  uvarint32(): number {
    const buf = this.buf;
    const start = this.offset;
    let x = 0;
    for (let i = 0; i < 5; i++) {
      const p = start + i;
      if (p >= buf.length) throw corrupt('truncated varint', start);
      const b = buf[p]!;
      // Multiplication instead of << so bit 31 does not turn the result negative.
      x += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) {
        if (b === 0 && i > 0) throw corrupt('non-minimal varint', start);
        if (x > UINT32_MAX) throw corrupt('varint overflows 32 bits', start);
        this.offset = p + 1;
        return x;
      }
    }
    throw corrupt('varint longer than 5 bytes', start);
  }

  uvarint64(): bigint {
    const buf = this.buf;
    const start = this.offset;
    let x = 0n;
    for (let i = 0; i < 10; i++) {
      const p = start + i;
      if (p >= buf.length) throw corrupt('truncated varint', start);
      const b = buf[p]!;
      x |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        if (b === 0 && i > 0) throw corrupt('non-minimal varint', start);
        if (x > UINT64_MAX) throw corrupt('varint overflows 64 bits', start);
        this.offset = p + 1;
        return x;
      }
    }
    throw corrupt('varint longer than 10 bytes', start);
  }

  varint32(): number {
    return zigzagDecode32(this.uvarint32());
  }

  varint64(): bigint {
    return zigzagDecode64(this.uvarint64());
  }
}

function checkUint32(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > UINT32_MAX) throw new RangeError(`varint: ${v} is not a uint32`);
}

function checkUint64(v: bigint): void {
  if (v < 0n || v > UINT64_MAX) throw new RangeError(`varint: ${v} is not a uint64`);
}

function checkRoom(buf: Uint8Array, offset: number, n: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + n > buf.length) {
    throw new RangeError(`varint: ${n} bytes at offset ${offset} do not fit in ${buf.length}`);
  }
}

function corrupt(message: string, at: number): NextDbError {
  return new NextDbError(SqlState.dataCorrupted, `malformed varint at byte ${at}: ${message}`);
}
