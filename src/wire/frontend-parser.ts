/**
 * FrontendParser: turns the byte stream a client sends into FrontendMessages,
 * incrementally and without sockets.
 *
 *   push(chunk) ─► buffered bytes ─► next() ─► message | undefined (need more)
 *                                         └──► throws ProtocolError (stream is bad)
 *
 * Two phases, as in PostgreSQL's backend:
 *  - startup: untyped packets `int32 length, int32 code, ...`. SSLRequest and
 *    GSSENCRequest keep the parser in this phase (the client follows with a
 *    StartupMessage); a StartupMessage switches it to the typed phase.
 *  - typed: `byte type, int32 length, body`.
 *
 * Limits: the length field is checked before the body is buffered, so an
 * oversize length is rejected after 5 bytes, not after the peer has filled
 * memory. Startup packets are capped at 10,000 bytes (PostgreSQL's limit);
 * typed messages at `maxMessageBytes`.
 *
 * Invariant: after next() throws, the parser is poisoned and every later
 * call throws the same error; a framing error leaves no trustworthy message
 * boundary to resume from.
 */

import type { FormatCode } from '../sql/api.ts';
import { type FrontendMessage, RequestCode } from './frontend-messages.ts';
import { MessageReader } from './message-reader.ts';
import { ProtocolError } from './protocol-error.ts';

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
export const maxStartupPacketBytes = 10_000;
/** Default cap on one typed message (PostgreSQL allows up to 1 GB; we prefer a tighter default). */
export const defaultMaxMessageBytes = 64 * 1024 * 1024;

export interface FrontendParserOptions {
  /** Largest typed message accepted, length field included. */
  readonly maxMessageBytes?: number;
}

export class FrontendParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private startupPhase = true;
  private poisoned: ProtocolError | undefined;
  private readonly reader = new MessageReader();
  /** The statement name of the last Bind, reused while the client binds the same one (MessageReader.cstringAgain). */
  private lastBindStatement = '';
  readonly maxMessageBytes: number;

  constructor(options: FrontendParserOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
  }

  /** True until a StartupMessage has been parsed. */
  get inStartupPhase(): boolean {
    return this.startupPhase;
  }

  /** Bytes received but not yet returned as messages. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** The next complete message, or undefined when more bytes are needed. Throws ProtocolError on bad input. */
  next(): FrontendMessage | undefined {
    if (this.poisoned !== undefined) throw this.poisoned;
    try {
      return this.startupPhase ? this.nextStartup() : this.nextTyped();
    } catch (err) {
      this.poisoned = err instanceof ProtocolError ? err : new ProtocolError(`invalid message: ${String(err)}`);
      throw this.poisoned;
    }
  }

  private nextStartup(): FrontendMessage | undefined {
    const avail = this.buf.length - this.pos;
    if (avail < 4) return undefined;
    const len = this.buf.readInt32BE(this.pos);
    if (len < 8 || len > maxStartupPacketBytes) throw new ProtocolError(`invalid length of startup packet: ${len}`);
    if (avail < len) return undefined;
    const start = this.pos;
    this.pos += len;
    const r = this.reader.reset(this.buf, start + 4, start + len, 'startup packet');
    const code = r.int32();
    switch (code) {
      case RequestCode.ssl:
        r.done();
        return { kind: 'sslRequest' };
      case RequestCode.gssEnc:
        r.done();
        return { kind: 'gssEncRequest' };
      case RequestCode.cancel: {
        const processId = r.int32();
        const secretKey = r.int32();
        r.done();
        return { kind: 'cancelRequest', processId, secretKey };
      }
      default: {
        const major = code >>> 16;
        if (major !== 3)
          throw new ProtocolError(
            `unsupported frontend protocol ${major}.${code & 0xffff}: server supports 3.0`,
            '0A000',
          );
        const params: Record<string, string> = Object.create(null) as Record<string, string>;
        for (;;) {
          const name = r.cstring();
          if (name === '') break;
          params[name] = r.cstring();
        }
        r.done();
        this.startupPhase = false;
        return { kind: 'startup', protocolVersion: code, params };
      }
    }
  }

  private nextTyped(): FrontendMessage | undefined {
    const avail = this.buf.length - this.pos;
    if (avail < 5) return undefined;
    const type = this.buf[this.pos]!;
    const len = this.buf.readInt32BE(this.pos + 1);
    if (len < 4) throw new ProtocolError(`invalid message length ${len} for message type 0x${type.toString(16)}`);
    if (len > this.maxMessageBytes) {
      throw new ProtocolError(`message of ${len} bytes exceeds the limit of ${this.maxMessageBytes} bytes`, '54000');
    }
    if (avail < len + 1) return undefined;
    const start = this.pos + 5;
    const end = this.pos + 1 + len;
    this.pos = end;
    return this.parseTyped(type, start, end);
  }

  private parseTyped(type: number, start: number, end: number): FrontendMessage {
    const r = this.reader;
    switch (type) {
      case 0x51 /* Q */: {
        r.reset(this.buf, start, end, 'Query');
        const sql = r.cstring();
        r.done();
        return { kind: 'query', sql };
      }
      case 0x50 /* P */: {
        r.reset(this.buf, start, end, 'Parse');
        const name = r.cstring();
        const sql = r.cstring();
        const n = r.count16(4);
        const paramTypes: number[] = new Array<number>(n);
        for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
        r.done();
        return { kind: 'parse', name, sql, paramTypes };
      }
      case 0x42 /* B */: {
        r.reset(this.buf, start, end, 'Bind');
        const portal = r.cstring();
        const statement = (this.lastBindStatement = r.cstringAgain(this.lastBindStatement));
        const paramFormats = readFormats(r);
        const n = r.count16(4);
        const params: (Buffer | null)[] = new Array<Buffer | null>(n);
        for (let i = 0; i < n; i++) {
          const len = r.int32();
          params[i] = len === -1 ? null : r.view(len);
        }
        const resultFormats = readFormats(r);
        r.done();
        return { kind: 'bind', portal, statement, paramFormats, params, resultFormats };
      }
      case 0x44 /* D */:
      case 0x43 /* C */: {
        const what = type === 0x44 ? 'Describe' : 'Close';
        r.reset(this.buf, start, end, what);
        const t = r.byte();
        if (t !== 0x53 && t !== 0x50) throw new ProtocolError(`invalid ${what} message subtype ${t}`);
        const name = r.cstring();
        r.done();
        const target = t === 0x53 ? 'S' : 'P';
        return type === 0x44 ? { kind: 'describe', target, name } : { kind: 'close', target, name };
      }
      case 0x45 /* E */: {
        r.reset(this.buf, start, end, 'Execute');
        const portal = r.cstring();
        const maxRows = r.int32();
        r.done();
        return { kind: 'execute', portal, maxRows: maxRows < 0 ? 0 : maxRows };
      }
      case 0x53 /* S */:
        return emptyMessage(r.reset(this.buf, start, end, 'Sync'), syncMessage);
      case 0x48 /* H */:
        return emptyMessage(r.reset(this.buf, start, end, 'Flush'), flushMessage);
      case 0x58 /* X */:
        return emptyMessage(r.reset(this.buf, start, end, 'Terminate'), terminateMessage);
      case 0x63 /* c */:
        return emptyMessage(r.reset(this.buf, start, end, 'CopyDone'), copyDoneMessage);
      case 0x70 /* p */:
        return { kind: 'password', data: r.reset(this.buf, start, end, 'password').rest() };
      case 0x64 /* d */:
        const r2 = r.reset(this.buf, start, end, 'CopyData');
        return { kind: 'copyData', data: r2.view(r2.remaining()) };
      case 0x66 /* f */: {
        r.reset(this.buf, start, end, 'CopyFail');
        const message = r.cstring();
        r.done();
        return { kind: 'copyFail', message };
      }
      case 0x46 /* F */: {
        // Only the OID is decoded: the fast-path function call is refused by the server.
        r.reset(this.buf, start, end, 'FunctionCall');
        return { kind: 'functionCall', functionOid: r.uint32() };
      }
      default:
        throw new ProtocolError(`invalid frontend message type ${type} ('${printable(type)}')`);
    }
  }
}

const syncMessage: FrontendMessage = { kind: 'sync' };
const flushMessage: FrontendMessage = { kind: 'flush' };
const terminateMessage: FrontendMessage = { kind: 'terminate' };
const copyDoneMessage: FrontendMessage = { kind: 'copyDone' };

function emptyMessage(r: MessageReader, m: FrontendMessage): FrontendMessage {
  r.done();
  return m;
}

function readFormats(r: MessageReader): FormatCode[] {
  const n = r.count16(2);
  const out: FormatCode[] = new Array<FormatCode>(n);
  for (let i = 0; i < n; i++) {
    const f = r.int16();
    if (f !== 0 && f !== 1) throw new ProtocolError(`invalid format code ${f}`);
    out[i] = f;
  }
  return out;
}

function printable(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?';
}
