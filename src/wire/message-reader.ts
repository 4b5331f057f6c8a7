/**
 * MessageReader: bounds-checked reads over one protocol message body.
 *
 * Every read checks that it stays inside the message; running past the end
 * raises a ProtocolError naming the message, never a RangeError from Buffer.
 * Strings are NUL-terminated UTF-8 (PostgreSQL's "String"); a missing
 * terminator is a protocol violation. The reader is reset onto each message
 * in turn, so parsing a stream allocates no reader objects.
 */

import { ProtocolError } from './protocol-error.ts';

export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private end = 0;
  private what = '';

  /** Positions the reader on bytes [start, end) of `buf`, describing them as `what` in errors. */
  reset(buf: Buffer, start: number, end: number, what: string): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.what = what;
    return this;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end)
      throw new ProtocolError(
        `invalid ${this.what} message: truncated (needs ${n} more bytes, has ${this.end - this.pos})`,
      );
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    if (this.pos < this.end && this.buf[this.pos] === 0) {
      this.pos++;
      return ''; // the unnamed statement or portal: the common case on the extended-protocol hot path
    }
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new ProtocolError(`invalid ${this.what} message: string is not terminated`);
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  /**
   * A NUL-terminated string, returned as `prev` itself when the bytes spell
   * it (an ASCII name a client sends again and again: the statement of
   * every Bind), which spares decoding it and hashing a new string for the
   * lookup by name.
   */
  cstringAgain(prev: string): string {
    const n = prev.length;
    const at = this.pos;
    if (n > 0 && at + n < this.end && this.buf[at + n] === 0) {
      let i = 0;
      while (i < n && this.buf[at + i] === prev.charCodeAt(i) && prev.charCodeAt(i) < 0x80) i++;
      if (i === n) {
        this.pos = at + n + 1;
        return prev;
      }
    }
    return this.cstring();
  }

  /** `n` bytes, copied so the caller may keep them after the input buffer is reused. */
  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolError(`invalid ${this.what} message: negative length ${n}`);
    this.need(n);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /**
   * `n` bytes without a copy: a view of the input buffer, valid as long as
   * that buffer is not modified. FrontendParser never modifies what it was
   * given (socket chunks are fresh Buffers, and it joins a split message
   * into a new one), so the server decodes Bind parameters and CopyData
   * this way and spares an allocation and a copy per value.
   */
  view(n: number): Buffer {
    if (n < 0) throw new ProtocolError(`invalid ${this.what} message: negative length ${n}`);
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Everything left in the message. */
  rest(): Buffer {
    return this.bytes(this.end - this.pos);
  }

  /** Raises if bytes are left over: a message longer than its content is malformed. */
  done(): void {
    if (this.pos !== this.end)
      throw new ProtocolError(`invalid ${this.what} message: ${this.end - this.pos} unexpected trailing bytes`);
  }

  /** A count field (int16) that must be non-negative and plausible for the bytes left. */
  count16(minBytesEach: number): number {
    const n = this.int16();
    if (n < 0) throw new ProtocolError(`invalid ${this.what} message: negative count ${n}`);
    if (n * minBytesEach > this.end - this.pos)
      throw new ProtocolError(`invalid ${this.what} message: count ${n} exceeds message length`);
    return n;
  }
}
