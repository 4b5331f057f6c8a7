/**
 * FrontendWriter: encodes client messages. The server never needs it; the
 * protocol tests, the fuzz test, the wire benchmark and a client do. It is
 * the exact inverse of FrontendParser for every FrontendMessage, which the
 * codec tests check as a round-trip property.
 */

import { assertNever } from '../util/assert.ts';
import { type FrontendMessage, RequestCode } from './frontend-messages.ts';
import { MessageWriter } from './message-writer.ts';

export class FrontendWriter {
  private readonly w = new MessageWriter();

  take(): Buffer {
    return this.w.take();
  }

  /** Appends one message; returns this for chaining. */
  add(m: FrontendMessage): this {
    const w = this.w;
    switch (m.kind) {
      case 'startup':
        w.begin(0).int32(m.protocolVersion);
        for (const [k, v] of Object.entries(m.params)) w.cstring(k).cstring(v);
        w.byte(0).end();
        break;
      case 'sslRequest':
        w.begin(0).int32(RequestCode.ssl).end();
        break;
      case 'gssEncRequest':
        w.begin(0).int32(RequestCode.gssEnc).end();
        break;
      case 'cancelRequest':
        w.begin(0).int32(RequestCode.cancel).int32(m.processId).int32(m.secretKey).end();
        break;
      case 'query':
        w.begin(0x51).cstring(m.sql).end();
        break;
      case 'parse':
        w.begin(0x50).cstring(m.name).cstring(m.sql).int16(m.paramTypes.length);
        for (const t of m.paramTypes) w.int32(t | 0);
        w.end();
        break;
      case 'bind':
        w.begin(0x42).cstring(m.portal).cstring(m.statement).int16(m.paramFormats.length);
        for (const f of m.paramFormats) w.int16(f);
        w.int16(m.params.length);
        for (const p of m.params) w.value(p);
        w.int16(m.resultFormats.length);
        for (const f of m.resultFormats) w.int16(f);
        w.end();
        break;
      case 'describe':
        w.begin(0x44).byte(m.target.charCodeAt(0)).cstring(m.name).end();
        break;
      case 'close':
        w.begin(0x43).byte(m.target.charCodeAt(0)).cstring(m.name).end();
        break;
      case 'execute':
        w.begin(0x45).cstring(m.portal).int32(m.maxRows).end();
        break;
      case 'sync':
        w.begin(0x53).end();
        break;
      case 'flush':
        w.begin(0x48).end();
        break;
      case 'terminate':
        w.begin(0x58).end();
        break;
      case 'password':
        w.begin(0x70).bytes(m.data).end();
        break;
      case 'copyData':
        w.begin(0x64).bytes(m.data).end();
        break;
      case 'copyDone':
        w.begin(0x63).end();
        break;
      case 'copyFail':
        w.begin(0x66).cstring(m.message).end();
        break;
      case 'functionCall':
        // Just the OID: enough for the server to refuse the (unsupported) fast path.
        w.begin(0x46)
          .int32(m.functionOid | 0)
          .end();
        break;
      default:
        assertNever(m, 'frontend message');
    }
    return this;
  }

  /** Body of a SASLInitialResponse 'p' message. */
  static saslInitialResponse(mechanism: string, data: Uint8Array): Buffer {
    const w = new MessageWriter();
    w.cstring(mechanism).value(data);
    return w.take();
  }

  /** Body of a PasswordMessage 'p' message. */
  static passwordMessage(password: string): Buffer {
    return new MessageWriter().cstring(password).take();
  }
}
