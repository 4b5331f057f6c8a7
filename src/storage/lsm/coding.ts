/**
 * Little binary helpers for the LSM file formats: unsigned LEB128 varints
 * that carry any safe integer (< 2^53, so file numbers, sequence numbers and
 * offsets all fit), and a growable output buffer that writers reuse.
 *
 * Decoders read from a Buffer at a position kept in `Cursor` (one object the
 * caller reuses) rather than returning tuples, to keep decoding allocation-free.
 */

import { assert } from '../../util/assert.ts';

export interface Cursor {
  pos: number;
}

/** Writes `n` (a non-negative safe integer) at `pos`; returns the position after it. */
export function putVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Reads a varint at `c.pos`, advancing it; returns -1 on a truncated or overlong varint. */
export function getVarint(buf: Uint8Array, c: Cursor, end: number): number {
  let result = 0;
  let mul = 1;
  let pos = c.pos;
  for (let i = 0; i < 8; i++) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    result += (b & 127) * mul;
    if (b < 128) {
      c.pos = pos;
      return result;
    }
    mul *= 128;
  }
  return -1;
}

/** A growable byte buffer for building records and blocks; `reset()` reuses its memory. */
export class ByteWriter {
  buf: Buffer;
  len = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  reset(): void {
    this.len = 0;
  }

  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  u8(n: number): void {
    this.ensure(1);
    this.buf[this.len++] = n;
  }

  u32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.len);
    this.len += 4;
  }

  /** A 48-bit unsigned integer, little-endian (sequence numbers). */
  u48(n: number): void {
    assert(n >= 0 && n < 2 ** 48, 'u48 out of range');
    this.ensure(6);
    this.buf.writeUIntLE(n, this.len, 6);
    this.len += 6;
  }

  u64(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, 'u64 must be a safe non-negative integer');
    this.ensure(8);
    this.buf.writeUInt32LE(n % 4294967296, this.len);
    this.buf.writeUInt32LE(Math.floor(n / 4294967296), this.len + 4);
    this.len += 8;
  }

  varint(n: number): void {
    this.ensure(8);
    this.len = putVarint(this.buf, this.len, n);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Varint length then bytes. */
  lenBytes(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  /**
   * Latin1 string as bytes (one byte per char), from char `start` on. Short
   * strings (keys) are copied by a loop: Buffer#write's native call costs
   * about three times as much as copying 16 chars.
   */
  latin1(s: string, start = 0): void {
    const n = s.length - start;
    this.ensure(n);
    if (n <= 64) {
      const buf = this.buf;
      const at = this.len - start;
      for (let i = start; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
    } else {
      this.buf.write(start === 0 ? s : s.slice(start), this.len, n, 'latin1');
    }
    this.len += n;
  }

  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export function readU64(buf: Buffer, pos: number): number {
  const v = buf.readUInt32LE(pos) + buf.readUInt32LE(pos + 4) * 4294967296;
  return v;
}
