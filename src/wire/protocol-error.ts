/**
 * ProtocolError: the typed error of the wire codec.
 *
 * Raised for anything a peer can get wrong at the framing level: a length
 * that is too small or too large, a message body that runs past its length,
 * an unknown message type, a string without its terminator. It carries
 * SQLSTATE 08P01 (protocol_violation) and severity FATAL, because after a
 * framing error the byte stream can no longer be trusted: the server reports
 * it (where the protocol allows an ErrorResponse) and closes that connection.
 */

import { NextDbError, SqlState } from '../util/errors.ts';

export class ProtocolError extends NextDbError {
  override name = 'ProtocolError';
  constructor(message: string, code: string = SqlState.protocolViolation) {
    super(code, message, { severity: 'FATAL' });
  }
}
