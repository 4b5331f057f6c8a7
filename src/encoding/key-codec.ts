/**
 * The order-preserving ("memcomparable") key codec.
 *
 * Every key in NextDB's single ordered keyspace is a concatenation of encoded
 * values, and the storage engine compares keys as plain bytes. This codec is
 * what makes that byte order equal to SQL order: for two tuples of values of
 * the same column kinds and directions,
 *
 *     compareBytes(encode(a), encode(b)) == sqlCompare(a, b)
 *
 * (property-tested in test/encoding/key-codec.test.ts). The byte format is
 * described in docs/internals/encoding.md; in short, each value is
 *
 *     tag byte | body                    (ascending column)
 *     ~(tag byte | body)                 (descending column: every byte inverted)
 *
 * Invariants that the order proof rests on:
 *  - Each encoded value is self-delimiting and no encoding is a proper prefix
 *    of another, so comparing concatenations compares column by column, and
 *    inverting all bytes of a value exactly reverses its order.
 *  - Ascending tags are all < 0x80 and descending tags (inverted) are all
 *    >= 0x80, so a reader can tell the kind and direction from the tag alone.
 *  - NULL has the smallest tag: NULLs sort first in an ascending column and
 *    last in a descending one (NULLS FIRST / NULLS LAST respectively). This
 *    differs from PostgreSQL's default (NULLS LAST for ASC); an index that
 *    needs the other placement encodes NULL in the opposite direction of the
 *    values (`null(!desc)`), which is still prefix-free.
 *  - Values that SQL considers equal encode to identical bytes: int2/int4/int8
 *    share one encoding, -0.0 encodes as 0.0, every float NaN encodes as the
 *    one canonical NaN, numeric '1.0' encodes as '1'.
 *
 * Decoding is strict: anything a correct writer cannot produce (wrong tag,
 * non-minimal integer, non-canonical float, bad escape, invalid UTF-8,
 * truncation) throws NextDbError with SqlState.dataCorrupted.
 *
 * Limits: strings are encoded as UTF-8, so the order is PostgreSQL's "C"
 * collation (code point order); a JavaScript string with unpaired surrogates
 * is encoded with U+FFFD in their place (it is not valid text). Decimals are
 * limited to PostgreSQL numeric's range: at most 131072 digits before the
 * decimal point and 16383 after it.
 */

import { prefixEnd } from '../util/bytes.ts';
import { NextDbError, SqlState } from '../util/errors.ts';

/** Tag bytes of ascending values; a descending value's tag is `~tag & 0xff`. */
const Tag = {
  null: 0x02,
  false: 0x10,
  true: 0x11,
  /** Integers: `intZero + n` for a positive value of n bytes, `intZero - n` for a negative one. */
  intZero: 0x28,
  float: 0x40,
  decNegInf: 0x50,
  decNeg: 0x51,
  decZero: 0x52,
  decPos: 0x53,
  decPosInf: 0x54,
  decNaN: 0x55,
  string: 0x60,
  bytes: 0x61,
} as const;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** PostgreSQL numeric's limits on digits before and after the decimal point. */
const DECIMAL_INT_DIGITS_MAX = 131072;
const DECIMAL_FRAC_DIGITS_MAX = 16383;

const INITIAL_CAPACITY_BYTES = 64;

export type KeyValueKind = 'null' | 'bool' | 'int' | 'float' | 'decimal' | 'string' | 'bytes';

/**
 * Appends encoded values to a growing buffer. Reusable: `finish()` returns a
 * copy and `reset()` starts a new key in the same buffer, so building many
 * keys allocates only the results.
 */
export class KeyWriter {
  private buf: Buffer;
  private len = 0;
  /** The last view() (of the current buffer); dropped when the buffer grows. */
  private lastView: Buffer | undefined;

  constructor(capacityBytes = INITIAL_CAPACITY_BYTES) {
    this.buf = Buffer.allocUnsafe(Math.max(16, capacityBytes));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** NULL: sorts before every other value ascending, after every value descending. */
  null(desc = false): this {
    this.ensure(1);
    this.buf[this.len++] = desc ? ~Tag.null & 0xff : Tag.null;
    return this;
  }

  bool(v: boolean, desc = false): this {
    this.ensure(1);
    const tag = v ? Tag.true : Tag.false;
    this.buf[this.len++] = desc ? ~tag & 0xff : tag;
    return this;
  }

  /**
   * A signed 64-bit integer. The body is the minimal number of big-endian
   * bytes; its length is folded into the tag, so small numbers take 2 bytes
   * and every width (int2/int4/int8) compares with every other.
   */
  int(v: bigint | number, desc = false): this {
    const start = this.len;
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new RangeError(`key int: ${v} is not an integer`);
      if (Number.isSafeInteger(v)) this.putSafeInt(v);
      else this.putBigInt(BigInt(v));
    } else {
      this.putBigInt(v);
    }
    if (desc) this.invert(start);
    return this;
  }

  /**
   * A float8 (float4 values widen exactly). PostgreSQL's order:
   * -Infinity < negatives < -0 == 0 < positives < Infinity < NaN. -0 is
   * encoded as 0 and every NaN as the canonical NaN, so SQL-equal values
   * have equal keys (and -0 decodes as 0).
   */
  float(v: number, desc = false): this {
    const start = this.len;
    this.ensure(9);
    this.buf[this.len++] = Tag.float;
    const p = this.len;
    if (Number.isNaN(v)) this.buf.writeDoubleBE(NaN, p);
    else this.buf.writeDoubleBE(v === 0 ? 0 : v, p);
    // IEEE 754 bits order positive numbers correctly as unsigned integers;
    // negatives are sign-magnitude, so invert them entirely, and set the
    // sign bit of positives so they sort after all negatives.
    if ((this.buf[p]! & 0x80) !== 0) {
      for (let i = p; i < p + 8; i++) this.buf[i] = ~this.buf[i]! & 0xff;
    } else {
      this.buf[p] = this.buf[p]! | 0x80;
    }
    this.len += 8;
    if (desc) this.invert(start);
    return this;
  }

  /**
   * An arbitrary-precision decimal in PostgreSQL numeric text form
   * ('-12.340', '1e-1000', 'NaN', 'Infinity', '-Infinity'). Scale is not
   * kept: '1.0' and '1' encode (and decode) identically, as SQL equality
   * demands. Malformed text throws SqlState.invalidTextRepresentation.
   */
  decimal(v: string, desc = false): this {
    const start = this.len;
    const d = parseDecimal(v);
    this.ensure(1);
    switch (d.kind) {
      case 'nan':
        this.buf[this.len++] = Tag.decNaN;
        break;
      case 'inf':
        this.buf[this.len++] = d.negative ? Tag.decNegInf : Tag.decPosInf;
        break;
      case 'zero':
        this.buf[this.len++] = Tag.decZero;
        break;
      case 'finite': {
        this.buf[this.len++] = d.negative ? Tag.decNeg : Tag.decPos;
        // value = 0.DIGITS x 10^exponent with DIGITS free of leading and
        // trailing zeros: a larger exponent means a larger magnitude, and for
        // equal exponents the digit strings compare lexicographically.
        const bodyStart = this.len;
        this.putSafeInt(d.exponent);
        this.putMantissa(d.digits);
        // Negative numbers: larger magnitude sorts first, so invert the body.
        if (d.negative) this.invert(bodyStart);
        break;
      }
    }
    if (desc) this.invert(start);
    return this;
  }

  /** Text as UTF-8 bytes: code point order, i.e. PostgreSQL's "C" collation. */
  string(v: string, desc = false): this {
    const start = this.len;
    // Fast path: ASCII without NUL is its own UTF-8 and needs no escaping.
    const n = v.length;
    this.ensure(n + 3);
    const b = this.buf;
    b[this.len] = Tag.string;
    let p = this.len + 1;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c === 0 || c >= 0x80) break;
      b[p++] = c;
    }
    if (i === n) {
      b[p++] = 0x00;
      b[p++] = 0x01;
      this.len = p;
      if (desc) this.invert(start);
      return this;
    }
    return this.stringSlow(v, desc, start);
  }

  private stringSlow(v: string, desc: boolean, start: number): this {
    this.len = start;
    // Worst case every byte is 0x00 and doubles; plus tag and terminator.
    const max = Buffer.byteLength(v, 'utf8');
    this.ensure(2 * max + 3);
    this.buf[this.len++] = Tag.string;
    const p = this.len;
    const n = this.buf.write(v, p, 'utf8');
    if (this.buf.subarray(p, p + n).indexOf(0) !== -1) {
      const raw = Buffer.from(this.buf.subarray(p, p + n));
      this.putEscaped(raw);
    } else {
      this.len += n;
      this.buf[this.len++] = 0x00;
      this.buf[this.len++] = 0x01;
    }
    if (desc) this.invert(start);
    return this;
  }

  /** A byte string (bytea): unsigned byte order, shorter prefix first. */
  bytes(v: Uint8Array, desc = false): this {
    const start = this.len;
    this.ensure(2 * v.length + 3);
    this.buf[this.len++] = Tag.bytes;
    this.putEscaped(v);
    if (desc) this.invert(start);
    return this;
  }

  /** Appends pre-encoded bytes verbatim (a table/index prefix, a stored key). */
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** A copy of the key built so far; the writer keeps its contents until reset(). */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    return out;
  }

  /**
   * The key built so far as a view of the writer's buffer, without a copy:
   * valid only until the next write or reset(), for a lookup that does not
   * keep the key.
   */
  view(): Buffer {
    // The last view is reused while it still spans the key (point lookups build same-length keys): no allocation.
    const v = this.lastView;
    if (v !== undefined && v.length === this.len) return v;
    return (this.lastView = this.buf.subarray(0, this.len));
  }

  reset(): this {
    this.len = 0;
    return this;
  }

  /** Keeps only the first `len` bytes (a prefix shared by the next key: it need not be written again). */
  truncate(len: number): this {
    if (len < 0 || len > this.len) throw new RangeError(`key truncate: ${len} is outside 0..${this.len}`);
    this.len = len;
    return this;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
    this.lastView = undefined;
  }

  private invert(from: number): void {
    const b = this.buf;
    for (let i = from; i < this.len; i++) b[i] = ~b[i]! & 0xff;
  }

  /**
   * Integer body for a safe integer, without BigInt. A negative v is written
   * as the inverted bytes of u = -v - 1 (its two's complement in n bytes).
   */
  private putSafeInt(v: number): void {
    this.ensure(9);
    if (v === 0) {
      this.buf[this.len++] = Tag.intZero;
      return;
    }
    const neg = v < 0;
    let u = neg ? -v - 1 : v;
    let n = 1;
    for (let t = Math.floor(u / 256); t > 0; t = Math.floor(t / 256)) n++;
    this.buf[this.len++] = neg ? Tag.intZero - n : Tag.intZero + n;
    const mask = neg ? 0xff : 0;
    for (let i = this.len + n - 1; i >= this.len; i--) {
      this.buf[i] = (u % 256) ^ mask;
      u = Math.floor(u / 256);
    }
    this.len += n;
  }

  private putBigInt(v: bigint): void {
    if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`key int: ${v} is outside the int64 range`);
    if (v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n) {
      this.putSafeInt(Number(v));
      return;
    }
    this.ensure(9);
    const neg = v < 0n;
    let u = neg ? -v - 1n : v;
    let n = 1;
    for (let t = u >> 8n; t > 0n; t >>= 8n) n++;
    this.buf[this.len++] = neg ? Tag.intZero - n : Tag.intZero + n;
    const mask = neg ? 0xff : 0;
    for (let i = this.len + n - 1; i >= this.len; i--) {
      this.buf[i] = Number(u & 0xffn) ^ mask;
      u >>= 8n;
    }
    this.len += n;
  }

  /**
   * Decimal digits packed two per byte ("centesimal" digits X in 0..99):
   * 2X+1 for every pair but the last, 2X for the last. The odd/even marker
   * makes the mantissa self-delimiting, and a number whose digits extend
   * another's sorts after it (0.12 < 0.121) because 2X < 2X+1.
   */
  private putMantissa(digits: string): void {
    const pairs = (digits.length + 1) >> 1;
    this.ensure(pairs);
    for (let i = 0; i < pairs; i++) {
      const hi = digits.charCodeAt(2 * i) - 48;
      const lo = 2 * i + 1 < digits.length ? digits.charCodeAt(2 * i + 1) - 48 : 0;
      const x = hi * 10 + lo;
      this.buf[this.len++] = i === pairs - 1 ? 2 * x : 2 * x + 1;
    }
  }

  /** 0x00 becomes 0x00 0xff; the terminator is 0x00 0x01, below any escaped or plain byte. */
  private putEscaped(v: Uint8Array): void {
    this.ensure(2 * v.length + 2);
    const b = this.buf;
    let p = this.len;
    for (let i = 0; i < v.length; i++) {
      const c = v[i]!;
      b[p++] = c;
      if (c === 0) b[p++] = 0xff;
    }
    b[p++] = 0x00;
    b[p++] = 0x01;
    this.len = p;
  }
}

/** Reads values back from an encoded key, in the order (and directions) they were written. */
export class KeyReader {
  private readonly buf: Buffer;
  private pos: number;

  constructor(buf: Uint8Array, offset = 0) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (!Number.isInteger(offset) || offset < 0 || offset > this.buf.length) {
      throw new RangeError(`key reader: offset ${offset} outside 0..${this.buf.length}`);
    }
    this.pos = offset;
  }

  get offset(): number {
    return this.pos;
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** The kind of the next value, from its tag byte in either direction. */
  peekKind(): KeyValueKind {
    const tag = this.peekTag();
    return kindOfTag(tag >= 0x80 ? ~tag & 0xff : tag, this.pos);
  }

  /** Whether the next value was written descending. */
  peekDesc(): boolean {
    return this.peekTag() >= 0x80;
  }

  null(desc = false): null {
    this.expectTag(Tag.null, desc, 'null');
    return null;
  }

  bool(desc = false): boolean {
    const tag = this.readTag(desc);
    if (tag === Tag.true) return true;
    if (tag === Tag.false) return false;
    throw this.corrupt(`expected bool, found tag 0x${tag.toString(16)}`, this.pos - 1);
  }

  int(desc = false): bigint {
    const tag = this.readTag(desc);
    return this.readIntBody(tag, desc ? 0xff : 0);
  }

  float(desc = false): number {
    this.expectTag(Tag.float, desc, 'float');
    const mask = desc ? 0xff : 0;
    const p = this.pos;
    this.need(8);
    const raw = Buffer.allocUnsafe(8);
    for (let i = 0; i < 8; i++) raw[i] = this.buf[p + i]! ^ mask;
    if ((raw[0]! & 0x80) !== 0) raw[0] = raw[0]! & 0x7f;
    else for (let i = 0; i < 8; i++) raw[i] = ~raw[i]! & 0xff;
    const v = raw.readDoubleBE(0);
    // Only the canonical NaN and +0 can have been written.
    if (Number.isNaN(v) ? !raw.equals(CANONICAL_NAN) : Object.is(v, -0)) {
      throw this.corrupt('non-canonical float', p);
    }
    this.pos += 8;
    return v;
  }

  /** The decimal in canonical PostgreSQL numeric text (no trailing zeros, no exponent). */
  decimal(desc = false): string {
    const start = this.pos;
    const tag = this.readTag(desc);
    switch (tag) {
      case Tag.decNaN:
        return 'NaN';
      case Tag.decPosInf:
        return 'Infinity';
      case Tag.decNegInf:
        return '-Infinity';
      case Tag.decZero:
        return '0';
      case Tag.decPos:
      case Tag.decNeg: {
        const negative = tag === Tag.decNeg;
        const mask = (desc ? 0xff : 0) ^ (negative ? 0xff : 0);
        const e = this.readIntBody(this.readByte(mask), mask);
        if (e > BigInt(DECIMAL_INT_DIGITS_MAX) || e < BigInt(-DECIMAL_FRAC_DIGITS_MAX)) {
          throw this.corrupt(`decimal exponent ${e} out of range`, start);
        }
        const digits = this.readMantissa(mask);
        const exponent = Number(e);
        if (exponent - digits.length < -DECIMAL_FRAC_DIGITS_MAX)
          throw this.corrupt('decimal has too many digits', start);
        return (negative ? '-' : '') + formatDecimal(digits, exponent);
      }
      default:
        throw this.corrupt(`expected decimal, found tag 0x${tag.toString(16)}`, start);
    }
  }

  string(desc = false): string {
    const at = this.pos;
    this.expectTag(Tag.string, desc, 'string');
    const buf = this.buf;
    if (!desc) {
      // Fast path: no escaped NUL, so the text is the bytes up to the terminator.
      const p = this.pos;
      const z = buf.indexOf(0, p);
      if (z !== -1 && z + 1 < buf.length && buf[z + 1] === 0x01) {
        const s = this.decodeUtf8(buf, p, z, at);
        this.pos = z + 2;
        return s;
      }
    }
    const b = this.readEscaped(desc);
    return this.decodeUtf8(b, 0, b.length, at);
  }

  /** Strict UTF-8 (invalid bytes are corruption, not U+FFFD); ASCII takes a shortcut. */
  private decodeUtf8(b: Buffer, from: number, to: number, at: number): string {
    let ascii = true;
    for (let i = from; i < to; i++) {
      if (b[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return b.toString('latin1', from, to);
    try {
      return UTF8.decode(b.subarray(from, to));
    } catch (e) {
      throw this.corrupt('string is not valid UTF-8', at, e);
    }
  }

  bytes(desc = false): Buffer {
    this.expectTag(Tag.bytes, desc, 'bytes');
    return this.readEscaped(desc);
  }

  /** Skips the next value of any kind (validating it as it goes). */
  skip(desc = false): void {
    switch (this.peekKind()) {
      case 'null':
        this.null(desc);
        return;
      case 'bool':
        this.bool(desc);
        return;
      case 'int':
        this.int(desc);
        return;
      case 'float':
        this.float(desc);
        return;
      case 'decimal':
        this.decimal(desc);
        return;
      case 'string':
        this.string(desc);
        return;
      case 'bytes':
        this.bytes(desc);
        return;
    }
  }

  private peekTag(): number {
    if (this.pos >= this.buf.length) throw this.corrupt('unexpected end of key', this.pos);
    return this.buf[this.pos]!;
  }

  private readByte(mask: number): number {
    if (this.pos >= this.buf.length) throw this.corrupt('unexpected end of key', this.pos);
    return this.buf[this.pos++]! ^ mask;
  }

  private readTag(desc: boolean): number {
    const raw = this.peekTag();
    if (raw >= 0x80 !== desc) {
      throw this.corrupt(
        `expected a ${desc ? 'descending' : 'ascending'} value, found tag 0x${raw.toString(16)}`,
        this.pos,
      );
    }
    this.pos++;
    return desc ? ~raw & 0xff : raw;
  }

  private expectTag(tag: number, desc: boolean, what: string): void {
    const at = this.pos;
    const t = this.readTag(desc);
    if (t !== tag) throw this.corrupt(`expected ${what}, found tag 0x${t.toString(16)}`, at);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw this.corrupt('unexpected end of key', this.pos);
  }

  /** Integer body after its (already un-masked) tag; rejects non-minimal encodings. */
  private readIntBody(tag: number, mask: number): bigint {
    const at = this.pos - 1;
    if (tag === Tag.intZero) return 0n;
    const n = tag > Tag.intZero ? tag - Tag.intZero : Tag.intZero - tag;
    if (n < 1 || n > 8) throw this.corrupt(`expected int, found tag 0x${tag.toString(16)}`, at);
    const neg = tag < Tag.intZero;
    this.need(n);
    // Magnitude bytes: u for a negative value (v = -u - 1), v for a positive one.
    const flip = mask ^ (neg ? 0xff : 0);
    const first = this.buf[this.pos]! ^ flip;
    if (first === 0 && (n > 1 || !neg)) throw this.corrupt('non-minimal integer', at);
    let u: bigint;
    if (n <= 6) {
      let x = 0;
      for (let i = 0; i < n; i++) x = x * 256 + (this.buf[this.pos + i]! ^ flip);
      u = BigInt(x);
    } else {
      u = 0n;
      for (let i = 0; i < n; i++) u = (u << 8n) | BigInt(this.buf[this.pos + i]! ^ flip);
      if (u > INT64_MAX) throw this.corrupt('integer outside int64', at);
    }
    this.pos += n;
    return neg ? -u - 1n : u;
  }

  private readMantissa(mask: number): string {
    const at = this.pos;
    let digits = '';
    for (;;) {
      const b = this.readByte(mask);
      const x = b >> 1;
      if (x > 99) throw this.corrupt('bad decimal digit pair', this.pos - 1);
      if (digits.length === 0 && x < 10) throw this.corrupt('decimal mantissa has a leading zero', at);
      if ((b & 1) === 1) {
        digits += x < 10 ? `0${x}` : `${x}`;
        continue;
      }
      if (x === 0) throw this.corrupt('decimal mantissa has a trailing zero', at);
      digits += x % 10 === 0 ? `${x / 10}` : x < 10 ? `0${x}` : `${x}`;
      return digits;
    }
  }

  /** An escaped byte string up to and including its terminator. */
  private readEscaped(desc: boolean): Buffer {
    const zero = desc ? 0xff : 0x00;
    const mask = desc ? 0xff : 0;
    const chunks: Buffer[] = [];
    let p = this.pos;
    for (;;) {
      const z = this.buf.indexOf(zero, p);
      if (z === -1 || z + 1 >= this.buf.length) throw this.corrupt('unterminated string', this.pos);
      chunks.push(this.buf.subarray(p, z + 1));
      const next = this.buf[z + 1]! ^ mask;
      if (next === 0x01) {
        // The terminator: drop the 0x00 just pushed.
        const last = chunks.length - 1;
        chunks[last] = chunks[last]!.subarray(0, chunks[last]!.length - 1);
        p = z + 2;
        break;
      }
      if (next !== 0xff) throw this.corrupt(`bad escape 0x00 0x${next.toString(16)}`, z);
      p = z + 2;
    }
    const out = Buffer.concat(chunks);
    if (desc) for (let i = 0; i < out.length; i++) out[i] = ~out[i]! & 0xff;
    this.pos = p;
    return out;
  }

  private corrupt(message: string, at: number, cause?: unknown): NextDbError {
    return new NextDbError(
      SqlState.dataCorrupted,
      `malformed key at byte ${at}: ${message}`,
      cause === undefined ? {} : { cause },
    );
  }
}

/**
 * The smallest key greater than every key that starts with `key` (the
 * exclusive upper bound of a prefix scan), or undefined when no such key
 * exists (the key is empty or all 0xff).
 */
export function prefixSuccessor(key: Uint8Array): Buffer | undefined {
  return prefixEnd(key);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The canonical NaN after un-transforming: what writeDoubleBE(NaN) writes. */
const CANONICAL_NAN = (() => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(NaN, 0);
  return b;
})();

function kindOfTag(tag: number, at: number): KeyValueKind {
  if (tag === Tag.null) return 'null';
  if (tag === Tag.false || tag === Tag.true) return 'bool';
  if (tag >= Tag.intZero - 8 && tag <= Tag.intZero + 8) return 'int';
  if (tag === Tag.float) return 'float';
  if (tag >= Tag.decNegInf && tag <= Tag.decNaN) return 'decimal';
  if (tag === Tag.string) return 'string';
  if (tag === Tag.bytes) return 'bytes';
  throw new NextDbError(SqlState.dataCorrupted, `malformed key at byte ${at}: unknown tag 0x${tag.toString(16)}`);
}

type ParsedDecimal =
  | { readonly kind: 'nan' }
  | { readonly kind: 'inf'; readonly negative: boolean }
  | { readonly kind: 'zero' }
  | { readonly kind: 'finite'; readonly negative: boolean; readonly digits: string; readonly exponent: number };

const DECIMAL_RE = /^([+-])?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const INFINITY_RE = /^([+-])?(?:inf|infinity)$/i;

/**
 * Parses numeric text into sign, significant digits (no leading or trailing
 * zeros) and exponent, with value = 0.DIGITS x 10^exponent.
 */
function parseDecimal(text: string): ParsedDecimal {
  const s = text.trim();
  if (/^nan$/i.test(s)) return { kind: 'nan' };
  const inf = INFINITY_RE.exec(s);
  if (inf !== null) return { kind: 'inf', negative: inf[1] === '-' };
  const m = DECIMAL_RE.exec(s);
  if (m === null) {
    throw new NextDbError(SqlState.invalidTextRepresentation, `invalid input syntax for type numeric: "${text}"`);
  }
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? m[4] ?? '';
  const expText = m[5];
  let all = intPart + fracPart;
  let lead = 0;
  while (lead < all.length && all.charCodeAt(lead) === 48) lead++;
  if (lead === all.length) return { kind: 'zero' };
  let end = all.length;
  while (all.charCodeAt(end - 1) === 48) end--;
  all = all.slice(lead, end);
  // A long exponent string may convert inexactly (or to Infinity), but any
  // such value is far outside the range checked below, so that is harmless.
  const exp = expText === undefined ? 0 : Number(expText);
  const exponent = intPart.length - lead + exp;
  if (
    !Number.isFinite(exponent) ||
    exponent > DECIMAL_INT_DIGITS_MAX ||
    exponent - all.length < -DECIMAL_FRAC_DIGITS_MAX
  ) {
    throw new NextDbError(SqlState.numericValueOutOfRange, `value overflows numeric format: "${text}"`);
  }
  return { kind: 'finite', negative: m[1] === '-', digits: all, exponent };
}

/** Plain decimal text of 0.DIGITS x 10^exponent. */
function formatDecimal(digits: string, exponent: number): string {
  if (exponent <= 0) return `0.${'0'.repeat(-exponent)}${digits}`;
  if (exponent >= digits.length) return digits + '0'.repeat(exponent - digits.length);
  return `${digits.slice(0, exponent)}.${digits.slice(exponent)}`;
}
