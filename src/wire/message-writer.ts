/**
 * MessageWriter: appends length-prefixed protocol messages to one growing
 * Buffer, so a whole batch of replies leaves in a single socket write.
 *
 *   begin(type) ─► int16/int32/cstring/bytes… ─► end()  (patches the length)
 *   … more messages …
 *   take() ─► one Buffer with every message, writer emptied
 *
 * The buffer is reused across batches (`take()` copies out only the used
 * part when the batch is small, and hands over the buffer itself when it is
 * large), so steady-state replies allocate one Buffer per batch. Shared by
 * the backend writer (server replies) and the frontend writer (tests, bench,
 * the client).
 */

import { assert } from '../util/assert.ts';

const initialBytes = 16 * 1024;
/** Batches larger than this hand their buffer over instead of copying; the writer then starts fresh. */
const handOverBytes = 256 * 1024;

export class MessageWriter {
  private buf: Buffer;
  private pos = 0;
  /** Offset of the length field of the open message, or -1. */
  private lengthAt = -1;

  /** `capacity`: the initial buffer size (it grows as needed). */
  constructor(capacity = initialBytes) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Opens a typed message; `type` 0 opens an untyped one (startup-phase packets). */
  begin(type: number): this {
    assert(this.lengthAt < 0, 'MessageWriter.begin inside an open message');
    this.ensure(5);
    if (type !== 0) this.buf[this.pos++] = type;
    this.lengthAt = this.pos;
    this.pos += 4;
    return this;
  }

  /** Closes the open message by writing its length (which counts itself, not the type byte). */
  end(): this {
    assert(this.lengthAt >= 0, 'MessageWriter.end without begin');
    this.buf.writeInt32BE(this.pos - this.lengthAt, this.lengthAt);
    this.lengthAt = -1;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(s: string): this {
    this.ensure(Buffer.byteLength(s) + 1);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.buf[this.pos++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** A length-prefixed value (int32 length, then bytes), -1 for NULL: DataRow and Bind values. */
  value(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.ensure(4 + b.length);
    this.buf.writeInt32BE(b.length, this.pos);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
    return this;
  }

  /** Returns every complete message written so far and empties the writer. */
  take(): Buffer {
    assert(this.lengthAt < 0, 'MessageWriter.take inside an open message');
    let out: Buffer;
    if (this.pos >= handOverBytes) {
      out = this.buf.subarray(0, this.pos);
      this.buf = Buffer.allocUnsafe(initialBytes);
    } else {
      out = Buffer.from(this.buf.subarray(0, this.pos));
    }
    this.pos = 0;
    return out;
  }
}
