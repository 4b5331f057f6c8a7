/**
 * The row value codec: how a table row's columns are stored in the value of
 * its primary-index key.
 *
 *   uvarint columnCount | null bitmap (ceil(n/8) bytes) | non-null values in column order
 *
 * Each value's body depends on the column type (fixed-width big-endian for
 * numbers and times, uvarint length + bytes for variable-length data).
 * Values are decoded by position, so adding a column (a higher attnum) keeps
 * old rows readable: columns past the stored count read as NULL. Dropped
 * columns keep their slot (always NULL in new rows).
 *
 * The codec is not self-describing: the reader must know the column types,
 * which the catalog provides. A value that does not match its type's shape
 * throws CorruptionError rather than returning garbage.
 */

import { CorruptionError } from '../util/errors.ts';
import { Decimal } from './types/decimal.ts';
import type { ArrayValue, Interval, JsonBox, SqlType, Value } from './types/sql-type.ts';
import { formatText, parseText, type IoSettings } from './types/text-io.ts';

const CODEC_IO: IoSettings = { timeZone: 'UTC', extraFloatDigits: 1 };

/** A growable byte buffer with varint, byte-string and UTF-8 string writes (rows here; spill records extend it). */
export class ByteWriter {
  buf: Buffer;
  len = 0;
  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  uvarint(v: number): void {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.len++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.len++] = v;
  }
  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.uvarint(n);
    this.ensure(n);
    this.buf.write(s, this.len, 'utf8');
    this.len += n;
  }
}

const shared = new ByteWriter();

function writeValue(w: ByteWriter, ty: SqlType, v: Value): void {
  switch (ty.id) {
    case 'bool':
      w.ensure(1);
      w.buf[w.len++] = v ? 1 : 0;
      return;
    case 'int2':
    case 'int4':
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc':
    case 'regnamespace':
    case 'date':
      w.ensure(4);
      w.buf.writeInt32BE(v as number, w.len);
      w.len += 4;
      return;
    case 'int8':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      w.ensure(8);
      w.buf.writeBigInt64BE(v as bigint, w.len);
      w.len += 8;
      return;
    case 'float4':
    case 'float8':
      w.ensure(8);
      w.buf.writeDoubleBE(v as number, w.len);
      w.len += 8;
      return;
    case 'numeric':
      w.string((v as Decimal).toString());
      return;
    case 'interval': {
      const iv = v as Interval;
      w.ensure(16);
      w.buf.writeInt32BE(iv.months, w.len);
      w.buf.writeInt32BE(iv.days, w.len + 4);
      w.buf.writeBigInt64BE(iv.micros, w.len + 8);
      w.len += 16;
      return;
    }
    case 'bytea':
      w.bytes(v as Buffer);
      return;
    case 'jsonb':
    case 'array':
    case 'record':
      w.string(formatText(ty, v as JsonBox | ArrayValue, CODEC_IO));
      return;
    default:
      w.string(v as string);
  }
}

/** Encodes a row (values in attnum order). The result is a fresh Buffer. */
export function encodeRow(types: readonly SqlType[], row: readonly Value[]): Buffer {
  const w = shared;
  w.len = 0;
  const n = types.length;
  w.uvarint(n);
  const bitmapAt = w.len;
  const bitmapLen = (n + 7) >> 3;
  w.ensure(bitmapLen);
  w.buf.fill(0, bitmapAt, bitmapAt + bitmapLen);
  w.len += bitmapLen;
  for (let i = 0; i < n; i++) {
    const v = row[i] ?? null;
    if (v === null) {
      w.buf[bitmapAt + (i >> 3)]! |= 1 << (i & 7);
      continue;
    }
    writeValue(w, types[i]!, v);
  }
  return Buffer.from(w.buf.subarray(0, w.len));
}

/**
 * Buffer's own UTF-8 decoder, called directly: `toString('utf8', start, end)`
 * ends there after argument checks and an encoding switch that cost as much
 * as decoding a short value. Not in Node's typings; falls back to toString.
 */
const utf8Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as unknown as { utf8Slice?: (this: Buffer, start: number, end: number) => string }).utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('utf8', start, end);
  };

/**
 * Reads varints, byte strings and UTF-8 strings from buf[pos, end), and
 * throws CorruptionError (naming `what`) instead of reading past `end` (rows
 * here; spill records extend it).
 */
export class ByteReader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly end = buf.length,
    readonly what = 'row value',
  ) {}
  uvarint(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new CorruptionError(this.what, 'truncated varint', this.pos);
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
      if (shift > 35) throw new CorruptionError(this.what, 'varint too long', this.pos);
    }
  }
  need(n: number): void {
    if (this.pos + n > this.end) throw new CorruptionError(this.what, 'truncated value', this.pos);
  }
  string(): string {
    const n = this.uvarint();
    this.need(n);
    const s = utf8Slice.call(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.uvarint();
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
}

function readValue(r: ByteReader, ty: SqlType): Value {
  switch (ty.id) {
    case 'bool':
      r.need(1);
      return r.buf[r.pos++] !== 0;
    case 'int2':
    case 'int4':
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc':
    case 'regnamespace':
    case 'date': {
      r.need(4);
      const v = r.buf.readInt32BE(r.pos);
      r.pos += 4;
      return v;
    }
    case 'int8':
    case 'time':
    case 'timestamp':
    case 'timestamptz': {
      r.need(8);
      const v = r.buf.readBigInt64BE(r.pos);
      r.pos += 8;
      return v;
    }
    case 'float4':
    case 'float8': {
      r.need(8);
      const v = r.buf.readDoubleBE(r.pos);
      r.pos += 8;
      return v;
    }
    case 'numeric': {
      const d = Decimal.parse(r.string());
      if (d === undefined) throw new CorruptionError(r.what, 'bad numeric', r.pos);
      return d;
    }
    case 'interval': {
      r.need(16);
      const iv: Interval = {
        months: r.buf.readInt32BE(r.pos),
        days: r.buf.readInt32BE(r.pos + 4),
        micros: r.buf.readBigInt64BE(r.pos + 8),
      };
      r.pos += 16;
      return iv;
    }
    case 'bytea':
      return r.bytes();
    case 'jsonb':
    case 'array':
    case 'record':
      return parseText(ty, r.string(), CODEC_IO);
    default:
      return r.string();
  }
}

/** Steps over one non-null value without decoding it (the value shapes of readValue). */
function skipValue(r: ByteReader, ty: SqlType): void {
  let n: number;
  switch (ty.id) {
    case 'bool':
      n = 1;
      break;
    case 'int2':
    case 'int4':
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc':
    case 'regnamespace':
    case 'date':
      n = 4;
      break;
    case 'int8':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'float4':
    case 'float8':
      n = 8;
      break;
    case 'interval':
      n = 16;
      break;
    default:
      n = r.uvarint(); // every other type is a uvarint length and that many bytes
  }
  r.need(n);
  r.pos += n;
}

/**
 * Decodes a row into `out` (length = types.length); columns beyond the
 * stored count are NULL. With `wanted`, only the columns it marks true are
 * decoded; the others are skipped and read as NULL (for a reader that uses
 * a few columns of a wide row), and columns past its length are not looked
 * at at all.
 */
export function decodeRow(
  types: readonly SqlType[],
  value: Buffer,
  out: Value[] = new Array<Value>(types.length),
  wanted?: readonly boolean[],
): Value[] {
  const r = new ByteReader(value);
  const n = r.uvarint();
  const bitmapAt = r.pos;
  r.pos += (n + 7) >> 3;
  r.need(0);
  const stop = wanted === undefined ? types.length : Math.min(types.length, wanted.length);
  for (let i = 0; i < stop; i++) {
    if (i >= n || (value[bitmapAt + (i >> 3)]! & (1 << (i & 7))) !== 0) {
      out[i] = null;
      continue;
    }
    if (wanted !== undefined && wanted[i] !== true) {
      skipValue(r, types[i]!);
      out[i] = null;
    } else out[i] = readValue(r, types[i]!);
  }
  for (let i = stop; i < types.length; i++) out[i] = null;
  return out;
}
