/**
 * BackendParser: decodes the server's messages. The server never needs it;
 * the codec tests (round trips against BackendWriter), the fuzz test's
 * well-behaved client and the wire benchmark do.
 *
 * Messages are returned as `{ type, ... }` records keyed by the type byte
 * character ('R', 'T', 'D', 'E', ...); unknown types are returned raw so a
 * test can assert on them rather than crash.
 */

import type { ColumnDescription } from '../sql/api.ts';
import { MessageReader } from './message-reader.ts';
import { ProtocolError } from './protocol-error.ts';

/** One RowDescription field: the column as the SQL layer describes it, plus its format code. */
export interface FieldDescription extends ColumnDescription {
  readonly format: number;
}

export type BackendMessage =
  | { readonly type: 'R'; readonly code: number; readonly data: Buffer }
  | { readonly type: 'S'; readonly name: string; readonly value: string }
  | { readonly type: 'K'; readonly processId: number; readonly secretKey: number }
  | { readonly type: 'Z'; readonly status: string }
  | { readonly type: 'T'; readonly fields: readonly FieldDescription[] }
  | { readonly type: 'D'; readonly values: readonly (Buffer | null)[] }
  | { readonly type: 'C'; readonly tag: string }
  | { readonly type: 'E' | 'N'; readonly fields: Readonly<Record<string, string>> }
  | { readonly type: 't'; readonly typeOids: readonly number[] }
  | { readonly type: 'G' | 'H'; readonly format: number; readonly columnFormats: readonly number[] }
  | { readonly type: 'd'; readonly data: Buffer }
  | { readonly type: 'v'; readonly minor: number; readonly unrecognized: readonly string[] }
  | { readonly type: 'I' | '1' | '2' | '3' | 'n' | 's' | 'c' }
  | { readonly type: 'other'; readonly typeByte: number; readonly body: Buffer };

export class BackendParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly r = new MessageReader();

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** The unframed single byte answering SSLRequest ('S' or 'N'), or undefined if none buffered. */
  takeByte(): number | undefined {
    if (this.buf.length === 0) return undefined;
    const b = this.buf[0]!;
    this.buf = this.buf.subarray(1);
    return b;
  }

  next(): BackendMessage | undefined {
    if (this.buf.length < 5) return undefined;
    const type = this.buf[0]!;
    const len = this.buf.readInt32BE(1);
    if (len < 4) throw new ProtocolError(`invalid backend message length ${len}`);
    if (this.buf.length < len + 1) return undefined;
    const body = this.buf.subarray(5, len + 1);
    this.buf = this.buf.subarray(len + 1);
    return this.decode(type, body);
  }

  private decode(type: number, body: Buffer): BackendMessage {
    const t = String.fromCharCode(type);
    const r = this.r.reset(body, 0, body.length, `backend '${t}'`);
    switch (t) {
      case 'R':
        return { type: 'R', code: r.int32(), data: r.rest() };
      case 'S':
        return { type: 'S', name: r.cstring(), value: r.cstring() };
      case 'K':
        return { type: 'K', processId: r.int32(), secretKey: r.int32() };
      case 'Z':
        return { type: 'Z', status: String.fromCharCode(r.byte()) };
      case 'T': {
        const n = r.int16();
        const fields: FieldDescription[] = [];
        for (let i = 0; i < n; i++) {
          fields.push({
            name: r.cstring(),
            tableOid: r.int32(),
            columnAttr: r.int16(),
            typeOid: r.int32(),
            typeSize: r.int16(),
            typeMod: r.int32(),
            format: r.int16(),
          });
        }
        return { type: 'T', fields };
      }
      case 'D': {
        const n = r.int16();
        const values: (Buffer | null)[] = [];
        for (let i = 0; i < n; i++) {
          const len = r.int32();
          values.push(len === -1 ? null : r.bytes(len));
        }
        return { type: 'D', values };
      }
      case 'C':
        return { type: 'C', tag: r.cstring() };
      case 'E':
      case 'N': {
        const fields: Record<string, string> = {};
        for (let code = r.byte(); code !== 0; code = r.byte()) fields[String.fromCharCode(code)] = r.cstring();
        return { type: t, fields };
      }
      case 't': {
        const n = r.int16();
        const typeOids: number[] = [];
        for (let i = 0; i < n; i++) typeOids.push(r.uint32());
        return { type: 't', typeOids };
      }
      case 'G':
      case 'H': {
        const format = r.byte();
        const n = r.int16();
        const columnFormats: number[] = [];
        for (let i = 0; i < n; i++) columnFormats.push(r.int16());
        return { type: t, format, columnFormats };
      }
      case 'd':
        return { type: 'd', data: r.rest() };
      case 'v': {
        const minor = r.int32();
        const n = r.int32();
        const unrecognized: string[] = [];
        for (let i = 0; i < n; i++) unrecognized.push(r.cstring());
        return { type: 'v', minor, unrecognized };
      }
      case 'I':
      case '1':
      case '2':
      case '3':
      case 'n':
      case 's':
      case 'c':
        return { type: t };
      default:
        return { type: 'other', typeByte: type, body: Buffer.from(body) };
    }
  }
}
