/**
 * BackendWriter: encodes the server's replies (protocol v3) into one batch.
 *
 * The connection appends every reply of a round trip (e.g. BindComplete,
 * RowDescription, DataRow…, CommandComplete, ReadyForQuery) and then calls
 * `take()` once, so a round trip costs one socket write. Pure: no sockets,
 * no clocks.
 *
 * ErrorResponse / NoticeResponse carry every field NextDbError has:
 * severity (S and the non-localized V), SQLSTATE (C), message (M), detail
 * (D), hint (H), position (P), schema (s), table (t), column (c),
 * constraint (n).
 */

import type { ColumnDescription, FormatCode, TxnStatus } from '../sql/api.ts';
import type { Severity } from '../util/errors.ts';
import { MessageWriter } from './message-writer.ts';

/** What ErrorResponse and NoticeResponse carry; NextDbError and Notice both fit. */
export interface ErrorNoticeFields {
  readonly severity: Severity | string;
  readonly code: string;
  readonly message: string;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
  readonly position?: number | undefined;
  readonly where?: string | undefined;
  readonly schema?: string | undefined;
  readonly table?: string | undefined;
  readonly column?: string | undefined;
  readonly constraint?: string | undefined;
}

/** Authentication request codes of the 'R' message. */
export const AuthCode = {
  ok: 0,
  cleartextPassword: 3,
  md5Password: 5,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

const emptyFormats: readonly FormatCode[] = [];

export class BackendWriter {
  private readonly w = new MessageWriter();

  /** Bytes pending in the current batch. */
  get length(): number {
    return this.w.length;
  }

  /** Every reply appended since the last take(), as one Buffer. */
  take(): Buffer {
    return this.w.take();
  }

  /** The single unframed byte answering SSLRequest/GSSENCRequest: 'S' accept, 'N' refuse. */
  sslResponse(accept: boolean): this {
    this.w.byte(accept ? 0x53 : 0x4e);
    return this;
  }

  authenticationOk(): this {
    this.w.begin(0x52).int32(AuthCode.ok).end();
    return this;
  }

  authenticationCleartextPassword(): this {
    this.w.begin(0x52).int32(AuthCode.cleartextPassword).end();
    return this;
  }

  authenticationMd5Password(salt: Uint8Array): this {
    this.w.begin(0x52).int32(AuthCode.md5Password).bytes(salt).end();
    return this;
  }

  authenticationSasl(mechanisms: readonly string[]): this {
    this.w.begin(0x52).int32(AuthCode.sasl);
    for (const m of mechanisms) this.w.cstring(m);
    this.w.byte(0).end();
    return this;
  }

  authenticationSaslContinue(data: Uint8Array): this {
    this.w.begin(0x52).int32(AuthCode.saslContinue).bytes(data).end();
    return this;
  }

  authenticationSaslFinal(data: Uint8Array): this {
    this.w.begin(0x52).int32(AuthCode.saslFinal).bytes(data).end();
    return this;
  }

  /** NegotiateProtocolVersion: the newest minor version we support and the options we did not recognize. */
  negotiateProtocolVersion(minor: number, unrecognized: readonly string[]): this {
    this.w.begin(0x76).int32(minor).int32(unrecognized.length);
    for (const o of unrecognized) this.w.cstring(o);
    this.w.end();
    return this;
  }

  parameterStatus(name: string, value: string): this {
    this.w.begin(0x53).cstring(name).cstring(value).end();
    return this;
  }

  backendKeyData(processId: number, secretKey: number): this {
    this.w.begin(0x4b).int32(processId).int32(secretKey).end();
    return this;
  }

  readyForQuery(status: TxnStatus): this {
    this.w.begin(0x5a).byte(status.charCodeAt(0)).end();
    return this;
  }

  /**
   * RowDescription. `formats` follows Bind's convention: empty = all text,
   * one entry = applies to all columns, else one per column.
   */
  rowDescription(columns: readonly ColumnDescription[], formats: readonly FormatCode[] = emptyFormats): this {
    // The session hands out one columns array per statement plan, so a statement's RowDescription is encoded once per
    // uniform format (all text, all binary) and copied in afterwards; mixed per-column formats are encoded each time.
    const uniform = uniformFormat(formats, columns.length);
    if (uniform !== undefined) {
      const cache = uniform === 0 ? textRowDescriptions : binaryRowDescriptions;
      let encoded = cache.get(columns);
      if (encoded === undefined) {
        const scratch = new MessageWriter(64);
        encodeRowDescription(scratch, columns, formats);
        encoded = scratch.take();
        cache.set(columns, encoded);
      }
      this.w.bytes(encoded);
      return this;
    }
    encodeRowDescription(this.w, columns, formats);
    return this;
  }

  dataRow(values: readonly (Buffer | null)[]): this {
    const w = this.w;
    w.begin(0x44).int16(values.length);
    for (let i = 0; i < values.length; i++) w.value(values[i]!);
    w.end();
    return this;
  }

  commandComplete(tag: string): this {
    this.w.begin(0x43).cstring(tag).end();
    return this;
  }

  emptyQueryResponse(): this {
    this.w.begin(0x49).end();
    return this;
  }

  errorResponse(e: ErrorNoticeFields): this {
    return this.errorOrNotice(0x45, e);
  }

  noticeResponse(e: ErrorNoticeFields): this {
    return this.errorOrNotice(0x4e, e);
  }

  private errorOrNotice(type: number, e: ErrorNoticeFields): this {
    const w = this.w;
    w.begin(type);
    w.byte(0x53).cstring(e.severity); // S: localized severity
    w.byte(0x56).cstring(e.severity); // V: never localized
    w.byte(0x43).cstring(e.code);
    w.byte(0x4d).cstring(e.message);
    if (e.detail !== undefined) w.byte(0x44).cstring(e.detail);
    if (e.hint !== undefined) w.byte(0x48).cstring(e.hint);
    if (e.position !== undefined) w.byte(0x50).cstring(String(e.position));
    if (e.where !== undefined) w.byte(0x57).cstring(e.where); // W: context
    if (e.schema !== undefined) w.byte(0x73).cstring(e.schema);
    if (e.table !== undefined) w.byte(0x74).cstring(e.table);
    if (e.column !== undefined) w.byte(0x63).cstring(e.column);
    if (e.constraint !== undefined) w.byte(0x6e).cstring(e.constraint);
    w.byte(0).end();
    return this;
  }

  parseComplete(): this {
    this.w.begin(0x31).end();
    return this;
  }

  bindComplete(): this {
    this.w.begin(0x32).end();
    return this;
  }

  closeComplete(): this {
    this.w.begin(0x33).end();
    return this;
  }

  noData(): this {
    this.w.begin(0x6e).end();
    return this;
  }

  parameterDescription(typeOids: readonly number[]): this {
    this.w.begin(0x74).int16(typeOids.length);
    for (const oid of typeOids) this.w.int32(oid | 0);
    this.w.end();
    return this;
  }

  portalSuspended(): this {
    this.w.begin(0x73).end();
    return this;
  }

  /** CopyInResponse ('G') / CopyOutResponse ('H'): overall format and per-column formats. */
  copyInResponse(format: FormatCode, columnFormats: readonly FormatCode[]): this {
    return this.copyResponse(0x47, format, columnFormats);
  }

  copyOutResponse(format: FormatCode, columnFormats: readonly FormatCode[]): this {
    return this.copyResponse(0x48, format, columnFormats);
  }

  private copyResponse(type: number, format: FormatCode, columnFormats: readonly FormatCode[]): this {
    this.w.begin(type).byte(format).int16(columnFormats.length);
    for (const f of columnFormats) this.w.int16(f);
    this.w.end();
    return this;
  }

  copyData(data: Uint8Array): this {
    this.w.begin(0x64).bytes(data).end();
    return this;
  }

  copyDone(): this {
    this.w.begin(0x63).end();
    return this;
  }
}

/** Encoded RowDescription messages per columns array (the session reuses one per statement plan), by uniform format. */
const textRowDescriptions = new WeakMap<readonly ColumnDescription[], Buffer>();
const binaryRowDescriptions = new WeakMap<readonly ColumnDescription[], Buffer>();

/** The one format every column has (Bind's convention: empty = text, one entry = all), or undefined when they differ. */
function uniformFormat(formats: readonly FormatCode[], columnCount: number): FormatCode | undefined {
  if (formats.length <= 1) return formats[0] ?? 0;
  const f = formats[0]!;
  for (let i = 1; i < columnCount; i++) if ((formats[i] ?? 0) !== f) return undefined;
  return f;
}

function encodeRowDescription(
  w: MessageWriter,
  columns: readonly ColumnDescription[],
  formats: readonly FormatCode[],
): void {
  w.begin(0x54).int16(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    const f = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
    w.cstring(c.name)
      .int32(c.tableOid)
      .int16(c.columnAttr)
      .int32(c.typeOid)
      .int16(c.typeSize)
      .int32(c.typeMod)
      .int16(f);
  }
  w.end();
}
