/**
 * The messages a PostgreSQL client sends (protocol v3), as plain immutable
 * data: a discriminated union on `kind`.
 *
 * Before startup completes a client sends untyped packets (a length, then a
 * 32-bit request code): StartupMessage, SSLRequest, GSSENCRequest and
 * CancelRequest. Afterwards every message starts with a type byte.
 *
 * The 'p' message is PasswordMessage, SASLInitialResponse or SASLResponse
 * depending on what the server asked for; the codec cannot tell them apart,
 * so it returns the raw body as `password` and the server interprets it
 * (`parseSaslInitialResponse` below for the SASL case).
 */

import type { FormatCode } from '../sql/api.ts';
import { MessageReader } from './message-reader.ts';

/** Request codes of the untyped startup-phase packets. */
export const RequestCode = {
  /** Protocol 3.0: major 3 in the high 16 bits, minor 0. */
  protocol30: 196608,
  ssl: 80877103,
  gssEnc: 80877104,
  cancel: 80877102,
} as const;

export type DescribeTarget = 'S' | 'P';

export type FrontendMessage =
  | { readonly kind: 'startup'; readonly protocolVersion: number; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'sslRequest' }
  | { readonly kind: 'gssEncRequest' }
  | { readonly kind: 'cancelRequest'; readonly processId: number; readonly secretKey: number }
  | { readonly kind: 'query'; readonly sql: string }
  | { readonly kind: 'parse'; readonly name: string; readonly sql: string; readonly paramTypes: readonly number[] }
  | {
      readonly kind: 'bind';
      readonly portal: string;
      readonly statement: string;
      readonly paramFormats: readonly FormatCode[];
      readonly params: readonly (Buffer | null)[];
      readonly resultFormats: readonly FormatCode[];
    }
  | { readonly kind: 'describe'; readonly target: DescribeTarget; readonly name: string }
  | { readonly kind: 'execute'; readonly portal: string; readonly maxRows: number }
  | { readonly kind: 'close'; readonly target: DescribeTarget; readonly name: string }
  | { readonly kind: 'sync' }
  | { readonly kind: 'flush' }
  | { readonly kind: 'terminate' }
  | { readonly kind: 'password'; readonly data: Buffer }
  | { readonly kind: 'copyData'; readonly data: Buffer }
  | { readonly kind: 'copyDone' }
  | { readonly kind: 'copyFail'; readonly message: string }
  | { readonly kind: 'functionCall'; readonly functionOid: number };

export type FrontendMessageKind = FrontendMessage['kind'];

/** SASLInitialResponse: the mechanism name and the client-first-message. */
export interface SaslInitialResponse {
  readonly mechanism: string;
  /** Null when the client sent length -1 (no initial response). */
  readonly data: Buffer | null;
}

/** Interprets a 'p' body as SASLInitialResponse (after AuthenticationSASL). */
export function parseSaslInitialResponse(body: Buffer): SaslInitialResponse {
  const r = new MessageReader().reset(body, 0, body.length, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const n = r.int32();
  const data = n === -1 ? null : r.bytes(n);
  r.done();
  return { mechanism, data };
}

/** Interprets a 'p' body as PasswordMessage: one NUL-terminated string. */
export function parsePasswordMessage(body: Buffer): string {
  const r = new MessageReader().reset(body, 0, body.length, 'PasswordMessage');
  const s = r.cstring();
  r.done();
  return s;
}
